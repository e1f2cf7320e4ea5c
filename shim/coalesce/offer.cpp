// SPDX-License-Identifier: MIT
/// @file offer.cpp
/// @brief A write the recorder offers: into the buffer, or around it (after what must go first).
#include "buffer.h"

#include "clock.h"
#include "hot.h"
#include "sys.h"

#include <climits>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace valley::shim {
namespace coalesce {
namespace {

// Pipes: a write of at most PIPE_BUF bytes is atomic, so a flush may never exceed PIPE_BUF nor
// split one of the program's writes.
inline size_t capacity(FdKind kind) {
  return (kind == FdKind::pipe || kind == FdKind::fifo) && g_coalesce.size > PIPE_BUF
             ? PIPE_BUF
             : g_coalesce.size;
}

// The program's write goes around the buffer: `around` (make the real call), or `refused` with
// *result -1 and errno EAGAIN where bytes buffered ahead of it on the same object block it.
Offer around(int fd, FdKind kind, ssize_t* result) {
  if (!g_pending.load(std::memory_order_acquire)) return Offer::around;
  const int err = before_write(fd, false, kind);
  if (!err) return Offer::around;
  errno = err;
  *result = -1;
  return Offer::refused;
}

Offer offer(const OfferedWrite& w, ssize_t* result, uint64_t* gen) {
  t_straight = Straight::none;
  if (!g_coalesce.on || g_final.load(std::memory_order_relaxed)) return Offer::around;
  if (held_by_me()) return Offer::around; // a signal handler inside the coalescer
  const int fd = w.fd;
  if (int err = take_sticky_error(fd)) {
    errno = err;
    *result = -1;
    return Offer::refused;
  }
  // A buffered write makes no syscall, so it would no longer be a cancellation point.
  pthread_testcancel();
  uint64_t total = 0;
  for (int i = 0; i < w.iovcnt; ++i) total += w.iov[i].iov_len;
  // A further write from the site that started the pending buffer needs no new verdict: any
  // call that could change the fd (close, dup*, fcntl, ioctl, shutdown) flushed the buffer
  // first.
  FdKind kind = w.kind;
  const bool same = g_pending.load(std::memory_order_acquire) && g_buf.fd == fd && g_buf.ra == w.ra;
  if (!same) {
    t_straight = may_buffer(w);
    if (t_straight != Straight::none) return around(fd, kind, result);
  }
  const size_t cap = capacity(kind);
  if (!try_lock()) {
    // Another thread holds the buffer, perhaps blocked flushing into a pipe that this thread
    // drains: a write to another fd does not wait for it and goes straight through (only a
    // dup of the flushed fd could tell the order). A write to the fd being flushed waits, as
    // it would wait for the pipe without valley, and so does one to a dup of it.
    if (buffered_fd() != fd) {
      t_straight = Straight::busy;
      return around(fd, kind, result);
    }
    lock();
  }
  if (g_buf.len && g_buf.fd != fd) {
    // Another fd's bytes: out with what that fd takes without blocking, since this thread may
    // be the one that drains it. If some stay, this write goes straight through, unless both
    // fds name one pipe or socket (a dup, 2>&1): then it waits behind them, as it would
    // without valley.
    const FlushBecause why(FlushReason::other_fd);
    flush_locked(Flush::nowait);
    if (g_buf.len && !same_object(g_buf.fd, fd)) {
      unlock();
      t_straight = Straight::busy;
      return Offer::around;
    }
    if (g_buf.len) flush_locked(Flush::write);
  }
  // This fd's own full buffer: wait for the fd, as the program's write would.
  if (g_buf.len && g_buf.len + total > cap) {
    const FlushBecause why(FlushReason::full);
    flush_locked(Flush::write);
  }
  if (g_buf.len && (g_buf.fd != fd || g_buf.len + total > cap)) {
    // The fd turned non-blocking behind valley's back and is full: this write is refused as
    // the kernel would refuse it, the rest goes out from the flusher thread.
    unlock();
    t_straight = Straight::busy;
    return around(fd, kind, result);
  }
  if (total > cap) { // too big to gain anything: the program's own call goes through
    unlock();
    t_straight = Straight::too_big;
    return Offer::around;
  }
  if (g_buf.len == 0) {
    // A pipe or socket whose reader is gone must fail this very write (EPIPE, SIGPIPE), not a
    // later flush: one poll per buffer, not per write.
    if (kind != FdKind::regular) {
      pollfd p{fd, POLLOUT, 0};
      if (::syscall(SYS_poll, &p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP))) {
        unlock();
        return Offer::around;
      }
    }
    std::atomic_ref(g_buf.first_ns).store(clock::monotonic_ns(), std::memory_order_relaxed);
    g_buf.fd = fd;
    g_buf.kind = kind;
    struct stat st {};
    const bool known = kind == FdKind::regular && sys::fstat(fd, &st) == 0;
    std::atomic_ref(g_buf.dev).store(known ? st.st_dev : 0, std::memory_order_relaxed);
    std::atomic_ref(g_buf.ino).store(known ? st.st_ino : 0, std::memory_order_relaxed);
  }
  g_buf.ra = w.ra;
  g_buf.site = w.site;
  for (int i = 0; i < w.iovcnt; ++i) {
    __builtin_memcpy(g_data + g_buf.len, w.iov[i].iov_base, w.iov[i].iov_len);
    g_buf.len += w.iov[i].iov_len;
  }
  ++g_buf.writes;
  t_wrote_gen = *gen = g_buf.gen;
  if (w.kernel_counted) note_absorbed(total);
  // Stored only when it changes: other threads read it on every call, and a store of the same
  // value would still take their copy of the cache line away. (It is cleared only under the
  // buffer, which this thread holds.)
  if (!g_pending.load(std::memory_order_relaxed)) g_pending.store(true, std::memory_order_release);
  unlock();
  *result = static_cast<ssize_t>(total);
  return Offer::taken;
}

} // namespace
} // namespace coalesce

VALLEY_HOT bool coalesce_append_again(int fd, uint64_t ra, uint32_t site, uint64_t gen,
                                      const iovec* iov, int iovcnt, uint64_t total,
                                      bool kernel_counted) {
  using namespace coalesce;
  if (g_final.load(std::memory_order_relaxed)) return false;
  if (fd < 0 || fd >= kFdSlots || g_sticky[fd].load(std::memory_order_acquire)) return false;
  pthread_testcancel(); // before the lock: a cancellation unwinds from here
  if (!try_lock()) return false;
  if (g_buf.gen != gen || g_buf.fd != fd || g_buf.ra != ra || g_buf.len == 0 ||
      g_buf.len + total > capacity(g_buf.kind)) {
    unlock();
    return false;
  }
  for (int i = 0; i < iovcnt; ++i) {
    __builtin_memcpy(g_data + g_buf.len, iov[i].iov_base, iov[i].iov_len);
    g_buf.len += iov[i].iov_len;
  }
  ++g_buf.writes;
  g_buf.site = site; // another Python line behind the same return address may have been last
  t_straight = Straight::none;
  t_wrote_gen = gen;
  if (kernel_counted) note_absorbed(total);
  unlock();
  return true;
}

uint8_t coalesce_last_straight() { return static_cast<uint8_t>(coalesce::t_straight); }

Offer coalesce_offer(const OfferedWrite& w, ssize_t* result, uint64_t* gen) {
  // Classifying a new fd (its TCGETS probe), F_GETFL and poll run before the program's call:
  // errno stays as the program left it unless the answer is an error (I-02).
  const int saved = errno;
  const Offer o = coalesce::offer(w, result, gen);
  if (o != Offer::refused) errno = saved;
  return o;
}

} // namespace valley::shim
