// SPDX-License-Identifier: MIT
/// @file buffer.cpp
/// @brief The buffer, its lock and its flush.
#include "buffer.h"

#include "clock.h"
#include "hot.h"
#include "recorder.h"
#include "sys.h"
#include "thread.h"

#include <cerrno>
#include <csignal>
#include <linux/futex.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace valley::shim {

constinit CoalesceOptions g_coalesce{};
VALLEY_HOT_DATA constinit std::atomic<bool> g_pending{false};

namespace coalesce {

constinit Buffer g_buf{};
char g_data[kMaxBuffer];
constinit std::atomic<bool> g_final{false};
constinit std::atomic<bool> g_flushing{false};
constinit std::atomic<uint32_t> g_sticky[kFdSlots]{};
constinit thread_local bool t_flusher __attribute__((tls_model("initial-exec"))) = false;
constinit thread_local bool t_in_flush __attribute__((tls_model("initial-exec"))) = false;
constinit thread_local uint64_t t_wrote_gen __attribute__((tls_model("initial-exec"))) = 0;
constinit thread_local FlushReason t_flush_reason __attribute__((tls_model("initial-exec"))) =
    FlushReason::call;
constinit thread_local Straight t_straight __attribute__((tls_model("initial-exec"))) = Straight::none;

namespace {

constexpr uint32_t kWaiters = 1u << 31; // tids are below 2^30 (pid_max at most 4194304)
constinit std::atomic<uint32_t> g_lock{0};
constinit thread_local uint32_t t_tid __attribute__((tls_model("initial-exec"))) = 0;
// Updated only while the buffer is held.
constinit std::atomic<uint64_t> g_absorbed{0}, g_absorbed_bytes{0};

long futex(std::atomic<uint32_t>* word, int op, uint32_t val) {
  return ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op | FUTEX_PRIVATE_FLAG, val,
                   nullptr, nullptr, 0);
}

// The buffer is empty: the next write starts a new one.
void emptied() {
  g_buf.len = 0;
  g_buf.writes = 0;
  g_buf.fd = -1;
  ++g_buf.gen;
  g_buf.ra = 0;
  g_pending.store(false, std::memory_order_release);
}

} // namespace

uint32_t my_tid() {
  if (!t_tid) t_tid = static_cast<uint32_t>(sys::gettid());
  return t_tid;
}

bool held_by_me() { return (g_lock.load(std::memory_order_relaxed) & ~kWaiters) == my_tid(); }

bool try_lock() {
  uint32_t free = 0;
  return g_lock.compare_exchange_strong(free, my_tid(), std::memory_order_acquire);
}

void lock() {
  const uint32_t me = my_tid();
  for (;;) {
    uint32_t v = 0;
    if (g_lock.compare_exchange_strong(v, me, std::memory_order_acquire)) return;
    if (!(v & kWaiters) &&
        !g_lock.compare_exchange_strong(v, v | kWaiters, std::memory_order_relaxed))
      continue;
    futex(&g_lock, FUTEX_WAIT, v | kWaiters);
  }
}

void unlock() {
  if (g_lock.exchange(0, std::memory_order_release) & kWaiters) futex(&g_lock, FUTEX_WAKE, INT32_MAX);
}

Frame::Frame() : nested_(enter_valley(t_thread)) {}
Frame::~Frame() {
  if (!nested_) leave_valley(t_thread);
}

void note_absorbed(uint64_t bytes) {
  g_absorbed.store(g_absorbed.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  g_absorbed_bytes.store(g_absorbed_bytes.load(std::memory_order_relaxed) + bytes,
                         std::memory_order_relaxed);
}

void flush_locked(Flush how) {
  const bool nowait = how == Flush::nowait;
  if (g_buf.len == 0) {
    g_pending.store(false, std::memory_order_release);
    return;
  }
  t_in_flush = true;
  const int fd = g_buf.fd;
  const bool pipe = g_buf.kind == FdKind::pipe || g_buf.kind == FdKind::fifo;
  const bool socket = g_buf.kind == FdKind::tcp || g_buf.kind == FdKind::unix_stream;
  const uint64_t t0 = clock::ticks();
  size_t done = 0;
  int err = 0;
  bool stopped = false;
  if (!nowait) g_flushing.store(true, std::memory_order_release);
  while (done < g_buf.len) {
    if (nowait && pipe) {
      // A pipe flush is at most PIPE_BUF bytes, so one free page (POLLOUT) takes all of it.
      pollfd p{fd, POLLOUT, 0};
      if (::syscall(SYS_poll, &p, 1, 0) == 0) {
        stopped = true;
        break;
      }
    }
    ssize_t w = nowait && socket
                    ? ::syscall(SYS_sendto, fd, g_data + done, g_buf.len - done, MSG_DONTWAIT, nullptr, 0)
                    : ::syscall(SYS_write, fd, g_data + done, g_buf.len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (how == Flush::write) note_flags(fd, true);
      if (how != Flush::wait) {
        stopped = true;
        break;
      }
      pollfd p{fd, POLLOUT, 0};
      ::syscall(SYS_poll, &p, 1, 1000);
      continue;
    }
    if (w <= 0) {
      err = w < 0 ? errno : EIO;
      break;
    }
    done += static_cast<size_t>(w);
  }
  if (!nowait) g_flushing.store(false, std::memory_order_release);
  const uint64_t t1 = clock::ticks();
  // send(MSG_DONTWAIT) is logged as a send: the kernel's syscw does not count it.
  const Op op = nowait && socket ? Op::send : Op::write;
  if (stopped) {
    if (done) record_flush(op, fd, done, done, 0, t0, t1, flush_note(g_buf.site, t_flush_reason));
    __builtin_memmove(g_data, g_data + done, g_buf.len - done);
    g_buf.len -= done;
    t_in_flush = false;
    return;
  }
  record_flush(op, fd, g_buf.len, done, err, t0, t1, flush_note(g_buf.site, t_flush_reason));
  note_flushed_writes(fd, g_buf.writes);
  if (err && fd >= 0 && fd < kFdSlots) {
    // The program was told these bytes were written; its next call on the fd (or its close)
    // learns that they were not.
    g_sticky[fd].store(static_cast<uint32_t>(err) | (t_flusher && err == EPIPE ? kSignalDue : 0),
                       std::memory_order_release);
  }
  emptied();
  t_in_flush = false;
}

void flush_any(bool wait) {
  if (held_by_me()) return; // a signal handler interrupted this thread holding the buffer
  if (wait) { // the program's own write on this fd would have waited, and so does this
    lock();
    flush_locked();
    unlock();
    return;
  }
  // Never wait for another thread's blocking flush: it may be blocked on a full pipe that this
  // very thread is about to drain (B-15), and it is making the bytes visible already. Any
  // other holder is brief (appending, checking the age, a flush that does not block) and may
  // leave bytes behind, so wait for it, in naps, for at most 50 ms.
  const uint64_t give_up = clock::monotonic_ns() + 50000000;
  do {
    if (try_lock()) {
      flush_locked(Flush::nowait);
      unlock();
      return;
    }
    if (g_flushing.load(std::memory_order_acquire) || !g_pending.load(std::memory_order_acquire))
      return;
    const timespec nap{0, 100000};
    clock_nanosleep(CLOCK_MONOTONIC, 0, &nap, nullptr);
  } while (clock::monotonic_ns() < give_up);
}

bool same_object(int a, int b) {
  struct stat sa {}, sb {};
  return sys::fstat(a, &sa) == 0 && sys::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

void raise_here(int sig) { ::syscall(SYS_tgkill, sys::getpid(), sys::gettid(), sig); }

// In a child of any fork: the only thread, holding nothing; bytes still buffered (a fork
// prepare could not take the buffer, or _Fork ran none) are the parent's to write.
void reset_in_child() {
  g_lock.store(0, std::memory_order_relaxed);
  t_tid = 0;
  t_in_flush = false;
  const uint64_t gen = g_buf.gen + 1;
  g_buf = Buffer{};
  g_buf.gen = gen;
  g_flushing.store(false, std::memory_order_relaxed);
  g_pending.store(false, std::memory_order_relaxed);
  // The child's coverage counts from its own start; the parent's absorbed calls are not its own.
  g_absorbed.store(0, std::memory_order_relaxed);
  g_absorbed_bytes.store(0, std::memory_order_relaxed);
}

} // namespace coalesce

using namespace coalesce;

void coalesce_thread_recovered(uint32_t tid) {
  t_in_flush = false;
  uint32_t v = g_lock.load(std::memory_order_relaxed);
  if ((v & ~kWaiters) != tid) return;
  // The frame left mid-flush may have written part of the buffer: the rest goes out later,
  // and what it wrote may go out twice (README, Limitations).
  g_flushing.store(false, std::memory_order_release);
  unlock();
}

int take_sticky_error(int fd) {
  if (fd < 0 || fd >= kFdSlots) return 0;
  if (!g_sticky[fd].load(std::memory_order_acquire)) return 0;
  const uint32_t v = g_sticky[fd].exchange(0, std::memory_order_acq_rel);
  if (v & kSignalDue) raise_here(SIGPIPE); // where the program would have had it: at its write
  return static_cast<int>(v & 0xffff);
}

CoalesceStats coalesce_stats() { return {g_absorbed.load(), g_absorbed_bytes.load()}; }

} // namespace valley::shim
