// SPDX-License-Identifier: MIT
#include "coalesce.h"

#include "clock.h"
#include "diag.h"
#include "hot.h"
#include "owner_lock.h"
#include "real.h"
#include "recorder.h"
#include "sys.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace valley::shim {

constinit CoalesceOptions g_coalesce{};
VALLEY_HOT_DATA constinit std::atomic<bool> g_pending{false};

namespace {

// The coalescer's own syscalls (F_GETFL, poll, a flush that fails) must not show in the errno
// of the program's call that led to them (I-02). Errors meant for the program are set after.
struct KeepErrno {
  int saved = errno;
  ~KeepErrno() { errno = saved; }
};

constexpr size_t kMaxBuffer = 1u << 20;
constexpr int kStickySlots = 65536;
constexpr uint32_t kSignalDue = 1u << 16; // the failed flush ran on the flusher thread: the
                                          // SIGPIPE the program would have had is still owed

// The one buffer. Guarded by g_lock; g_pending mirrors "len > 0" for the lock-free check.
struct Buffer {
  int fd = -1;
  FdKind kind = FdKind::unknown;
  size_t len = 0;
  uint32_t writes = 0;   // program calls in it
  uint64_t first_ns = 0; // when the oldest buffered byte arrived
  uint64_t gen = 1;      // counts buffers: a new one starts each time the buffer empties
};
constinit Buffer g_buf{};
constinit uint64_t g_buf_ra = 0; // call site of the latest buffered write
char g_data[kMaxBuffer];
constinit pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
constinit thread_local bool t_holding __attribute__((tls_model("initial-exec"))) = false;
constinit thread_local bool t_flusher __attribute__((tls_model("initial-exec"))) = false;
// The buffer is taken (t_holding is set a little earlier and cleared a little later).
constinit thread_local bool t_has __attribute__((tls_model("initial-exec"))) = false;
// Inside flush_locked: a signal handler here must not write these bytes again.
constinit thread_local bool t_in_flush __attribute__((tls_model("initial-exec"))) = false;
// g_buf.gen of the last buffer this thread wrote into: the buffer holds its bytes while equal.
constinit thread_local uint64_t t_wrote_gen __attribute__((tls_model("initial-exec"))) = 0;
constinit std::atomic<bool> g_final{false};
// Set while the buffer's holder is inside a write that may block (a flush without `nowait`).
constinit std::atomic<bool> g_flushing{false};
constinit std::atomic<bool> g_flusher_started{false};
constinit std::atomic<uint32_t> g_sticky[kStickySlots]{};

// B-18.2: O_NONBLOCK (and O_DIRECT, O_SYNC) belong to the open file description, which a dup,
// ioctl(FIONBIO) or another process may change behind the fd number's cached verdict. Each fd's
// F_GETFL is kept as gen << 1 | unfit and read again after any F_SETFL or FIONBIO in the
// process, before the fd's next buffer.
constinit std::atomic<uint32_t> g_flags_gen{1};
constinit std::atomic<uint32_t> g_flags_seen[kStickySlots]{};

struct FdBits {
  std::atomic<uint64_t> w[kStickySlots / 64];
  void set(int fd, bool on) {
    if (fd < 0 || fd >= kStickySlots) return;
    const uint64_t bit = uint64_t{1} << (fd % 64);
    if (on)
      w[fd / 64].fetch_or(bit, std::memory_order_relaxed);
    else
      w[fd / 64].fetch_and(~bit, std::memory_order_relaxed);
  }
  bool test(int fd) const {
    return fd >= 0 && fd < kStickySlots &&
           (w[fd / 64].load(std::memory_order_relaxed) >> (fd % 64) & 1);
  }
};
constinit FdBits g_stdio_fds{}; // fdopen'ed: stdio writes them too
constinit FdBits g_shut_fds{};  // shut down for writing: every write fails with EPIPE (B-18.1)

bool unfit_flags(int fl) { return fl < 0 || (fl & (O_NONBLOCK | O_SYNC | O_DSYNC | O_DIRECT)); }

void note_flags(int fd, uint32_t gen, bool unfit) {
  if (fd >= 0 && fd < kStickySlots)
    g_flags_seen[fd].store((gen & 0x7fffffff) << 1 | unfit, std::memory_order_relaxed);
}

// Whether the fd's open file description still blocks (and was not shut down for writing).
bool flags_fit(int fd) {
  if (g_shut_fds.test(fd)) return false;
  const uint32_t gen = g_flags_gen.load(std::memory_order_acquire);
  if (fd >= 0 && fd < kStickySlots) {
    const uint32_t v = g_flags_seen[fd].load(std::memory_order_relaxed);
    if (v >> 1 == (gen & 0x7fffffff)) return !(v & 1);
  }
  const bool unfit = unfit_flags(static_cast<int>(::syscall(SYS_fcntl, fd, F_GETFL)));
  note_flags(fd, gen, unfit);
  return !unfit;
}

// Request/response traffic (write a request, read the answer) flushes every buffer after a
// single write: buffering it saves no syscall and costs a poll and a copy. After kLoneLimit
// such buffers in a row an fd is written straight through; every kLoneRetry-th write on it
// tries the buffer again, in case the program moved on to a bulk phase.
constexpr uint8_t kLoneLimit = 8;
constexpr uint8_t kLoneRetry = 64;
constinit std::atomic<uint8_t> g_lone[kStickySlots]{};

// Written only while the buffer is held; the straight-through path counts on it racily,
// which at worst retries the buffer a little early or late.
void note_flushed_writes(int fd, uint32_t writes) {
  if (fd < 0 || fd >= kStickySlots) return;
  const uint8_t v = g_lone[fd].load(std::memory_order_relaxed);
  g_lone[fd].store(writes > 1 ? 0 : v < kLoneLimit ? v + 1 : v, std::memory_order_relaxed);
}

// True when this write on fd should skip the buffer.
bool lone_writer(int fd) {
  if (fd < 0 || fd >= kStickySlots) return false;
  const uint8_t v = g_lone[fd].load(std::memory_order_relaxed);
  if (v < kLoneLimit) return false;
  const bool retry = v - kLoneLimit + 1 >= kLoneRetry;
  g_lone[fd].store(retry ? kLoneLimit - 1 : v + 1, std::memory_order_relaxed);
  return !retry;
}
// Updated only while the buffer is held.
constinit std::atomic<uint64_t> g_absorbed{0}, g_absorbed_bytes{0};

void note_absorbed(uint64_t bytes) {
  g_absorbed.store(g_absorbed.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  g_absorbed_bytes.store(g_absorbed_bytes.load(std::memory_order_relaxed) + bytes,
                         std::memory_order_relaxed);
}

// How the buffer is held: the owner's window (owner_lock.h: no locked instruction, the common
// case of a program writing from its main thread), or the mutex, under which every other
// thread also keeps the owner out of its window.
enum class Hold { none, window, mutex };

// t_holding is set before the buffer is taken and cleared after it is released: a signal
// handler that lands anywhere in between sees it and writes straight through instead of
// waiting for what this thread already holds.
Hold lock() {
  t_holding = true;
  if (owner::enter()) return t_has = true, Hold::window;
  pthread_mutex_lock(&g_lock);
  if (owner::is_owner() || owner::exclude()) return t_has = true, Hold::mutex;
  pthread_mutex_unlock(&g_lock); // the owner never left its window: leave the buffer alone
  t_holding = false;
  return Hold::none;
}

// As lock(), but never waits for another thread (B-15).
Hold try_lock() {
  t_holding = true;
  if (owner::enter()) return t_has = true, Hold::window;
  if (pthread_mutex_trylock(&g_lock) == 0) {
    if (owner::is_owner() || owner::exclude()) return t_has = true, Hold::mutex;
    pthread_mutex_unlock(&g_lock);
  }
  t_holding = false;
  return Hold::none;
}

// A flush may block on a slow reader, so it runs under the mutex, never in the owner's window:
// no thread may wait for the window across it (a reader thread revoking the window would wait
// for the very flush it has to unblock). The owner leaves its window first; the flusher may
// flush the buffer meanwhile, which flush_locked() takes in stride. False, with nothing held,
// when `wait` is false and the mutex is busy.
bool hold_for_flush(Hold& h, bool wait) {
  if (h != Hold::window) return h == Hold::mutex;
  t_has = false;
  owner::leave();
  if (wait) {
    pthread_mutex_lock(&g_lock);
  } else if (pthread_mutex_trylock(&g_lock) != 0) {
    h = Hold::none;
    t_holding = false;
    return false;
  }
  t_has = true;
  h = Hold::mutex; // the owner's: nobody to exclude, nothing to readmit
  return true;
}

void unlock(Hold h) {
  t_has = false;
  if (h == Hold::window) {
    owner::leave();
  } else if (h == Hold::mutex) {
    if (!owner::is_owner()) owner::readmit();
    pthread_mutex_unlock(&g_lock);
  }
  t_holding = false;
}

// The buffer is empty: the next write starts a new one.
void emptied() {
  g_buf.len = 0;
  g_buf.writes = 0;
  g_buf.fd = -1;
  ++g_buf.gen;
  g_buf_ra = 0;
  g_pending.store(false, std::memory_order_release);
}

// How a flush may wait for the fd. Bytes are never dropped for EAGAIN: the program was told
// they were written, and what is not written stays buffered, in order.
enum class Flush {
  nowait, // only what the fd takes without blocking
  wait,   // all of it, waiting for room as the program's write would have (only blocking fds
          // are buffered); if the fd turned non-blocking where valley did not see it (another
          // process sharing the description, a raw syscall), by polling for room (B-18.2)
  write,  // as wait, for the program's own write that needs room in the buffer; but an fd that
          // turned non-blocking stops the flush: the fd is no longer buffered and that write,
          // queued behind the rest, gets EAGAIN as the kernel would give it
};

// Writes the buffer out. Caller holds the buffer.
void flush_locked(Flush how = Flush::wait) {
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
      if (how == Flush::write) note_flags(fd, g_flags_gen.load(std::memory_order_acquire), true);
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
    if (done) record_flush(op, fd, done, done, 0, t0, t1);
    __builtin_memmove(g_data, g_data + done, g_buf.len - done);
    g_buf.len -= done;
    t_in_flush = false;
    return;
  }
  record_flush(op, fd, g_buf.len, done, err, t0, t1);
  note_flushed_writes(fd, g_buf.writes);
  if (err) {
    // The program was told these bytes were written; its next call on the fd (or its close)
    // learns that they were not.
    if (fd >= 0 && fd < kStickySlots)
      g_sticky[fd].store(static_cast<uint32_t>(err) | (t_flusher && err == EPIPE ? kSignalDue : 0),
                         std::memory_order_release);
  }
  emptied();
  t_in_flush = false;
}

// In a child of any fork: the only thread, holding nothing; bytes still buffered (a fork
// prepare could not take the buffer, or _Fork ran none) are the parent's to write.
void reset_in_child() {
  pthread_mutex_init(&g_lock, nullptr);
  t_holding = t_has = t_in_flush = false;
  const uint64_t gen = g_buf.gen + 1;
  g_buf = Buffer{};
  g_buf.gen = gen;
  g_buf_ra = 0;
  g_flushing.store(false, std::memory_order_relaxed);
  g_pending.store(false, std::memory_order_relaxed);
}

// Whether two fds name the same file, pipe or socket (an fstat each: only on a rare path).
bool same_object(int a, int b) {
  struct stat sa {}, sb {};
  return sys::fstat(a, &sa) == 0 && sys::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

// Bounds the age of buffered bytes. All signals blocked: it must never take the program's.
void* flusher(void*) {
  t_flusher = true;
  owner::become_helper();
  const uint64_t age_ns = uint64_t{g_coalesce.max_age_us} * 1000;
  constexpr uint64_t kMinNap = 100000;
  const uint64_t idle_nap = std::max(age_ns / 2, kMinNap);
  uint64_t nap_ns = idle_nap;
  while (!g_final.load(std::memory_order_acquire)) {
    // Idle, it looks every age/2; with bytes buffered it wakes when the oldest is due, so no
    // byte waits much longer than the age bound (not up to 1.5 times it).
    const timespec nap{static_cast<time_t>(nap_ns / 1000000000),
                       static_cast<long>(nap_ns % 1000000000)};
    clock_nanosleep(CLOCK_MONOTONIC, 0, &nap, nullptr);
    nap_ns = idle_nap;
    if (!g_pending.load(std::memory_order_acquire)) continue;
    // Unlocked, first_ns is only a hint (the buffer may be refilled meanwhile): it saves the
    // membarrier of an exclusion when nothing is due yet.
    uint64_t waited = clock::monotonic_ns() - std::atomic_ref(g_buf.first_ns).load(std::memory_order_relaxed);
    if (waited < age_ns) {
      nap_ns = std::max(age_ns - waited, kMinNap);
      continue;
    }
    const Hold h = lock();
    if (h != Hold::none && g_buf.len) {
      waited = clock::monotonic_ns() - g_buf.first_ns;
      if (waited >= age_ns) flush_locked();
      else nap_ns = std::max(age_ns - waited, kMinNap);
    }
    unlock(h);
  }
  return nullptr;
}

void start_flusher() {
  if (g_coalesce.naive || g_flusher_started.exchange(true)) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); // the new thread inherits a full mask
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t t;
  if (pthread_create(&t, &attr, flusher, nullptr) != 0) {
    diag("warning: cannot start the coalescer's flusher thread; coalescing off");
    g_coalesce.on = false;
  }
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

// Signals whose default action ends the process: buffered bytes are written first.
constexpr int kFatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTERM,
                          SIGINT,  SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM};

constinit std::atomic<bool> g_own[65]{};

// The current buffer holds bytes this thread wrote (racy read: a hint for how long to wait).
bool buffer_mine() {
  return g_pending.load(std::memory_order_acquire) &&
         t_wrote_gen == std::atomic_ref(g_buf.gen).load(std::memory_order_relaxed);
}

uint64_t age_deadline() { return clock::monotonic_ns() + uint64_t{g_coalesce.max_age_us} * 1000; }

// Writes the buffer out as the image ends. `wait`: for as long as the fd takes, as the
// program's own write would have; otherwise only until `deadline` (monotonic ns), waiting
// neither for the fd nor for another thread's flush beyond it: the end would have cut short a
// write that was blocked then, and a signal must end the process (B-18.4). Safe in a signal
// handler: a thread interrupted inside a flush writes nothing again (those bytes were being
// written when the signal came), one interrupted while holding the buffer flushes it as it is.
void flush_for_end(bool wait, uint64_t deadline) {
  if (t_in_flush) return;
  const bool held = t_has;
  // A handler that interrupted this thread while it took or gave back the mutex: waiting for
  // it could wait for this very thread.
  if (t_holding && !held) wait = false;
  Hold h = Hold::none;
  if (!held && wait) {
    h = lock();
    if (!hold_for_flush(h, true)) return unlock(h);
  } else if (!held) {
    for (;;) {
      h = try_lock();
      if (hold_for_flush(h, false)) break;
      if (!g_pending.load(std::memory_order_acquire) || clock::monotonic_ns() >= deadline) return;
      const timespec nap{0, 100000};
      clock_nanosleep(CLOCK_MONOTONIC, 0, &nap, nullptr);
    }
  }
  if (wait) flush_locked();
  for (uint64_t now; !wait && g_buf.len && (now = clock::monotonic_ns()) < deadline;) {
    flush_locked(Flush::nowait);
    if (!g_buf.len) break;
    pollfd p{g_buf.fd, POLLOUT, 0};
    ::syscall(SYS_poll, &p, 1, static_cast<int>((deadline - now) / 1000000 + 1));
  }
  if (!held) unlock(h);
}

// A synchronous fault of this very thread: the program's own doing, like its exit.
bool own_fault(int sig, const siginfo_t* si) {
  return si && si->si_code > 0 &&
         (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE);
}

void raise_here(int sig) { ::syscall(SYS_tgkill, sys::getpid(), sys::gettid(), sig); }

void on_fatal(int sig, siginfo_t* si, void*) {
  // A signal from elsewhere (SIGTERM from a supervisor, a timer) ends the process whatever the
  // buffer's state: a writer blocked on a full pipe would have died inside its write too.
  if (g_pending.load(std::memory_order_acquire))
    flush_for_end(own_fault(sig, si) && buffer_mine(), age_deadline());
  // SA_RESETHAND has restored the default action: raising again ends the process as it
  // would have ended without valley.
  note_own_handler(sig, false);
  raise_here(sig);
}

int real_sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  auto f = VALLEY_REAL(sigaction);
  return f ? f(sig, act, old) : -1;
}

// Whether sig, delivered to this process now, ends it (signal(7): the default action is to
// terminate or dump core). The thread's signal mask is not looked at.
bool signal_ends_process(int sig) {
  if (sig == SIGKILL) return true;
  if (sig <= 0 || sig >= 65 || sig == SIGSTOP) return false;
  if (own_handler(sig)) return true;
  struct sigaction cur {};
  if (real_sigaction(sig, nullptr, &cur) != 0 || (cur.sa_flags & SA_SIGINFO) ||
      cur.sa_handler != SIG_DFL)
    return false;
  switch (sig) {
  case SIGCHLD:
  case SIGCONT:
  case SIGURG:
  case SIGWINCH:
  case SIGTSTP:
  case SIGTTIN:
  case SIGTTOU:
    return false;
  default:
    return true;
  }
}

// The naive mode: what a first attempt at write-combining looks like, kept so that every
// hazard test can show it would catch that attempt.
struct NaiveBuf {
  int fd = -1;
  size_t len = 0;
  char data[65536];
};
NaiveBuf g_naive[8];

void naive_flush(NaiveBuf& b) {
  for (size_t done = 0; done < b.len;) {
    ssize_t w = ::syscall(SYS_write, b.fd, b.data + done, b.len - done);
    if (w <= 0) break;
    done += static_cast<size_t>(w);
  }
  b.len = 0;
}

bool naive_write(int fd, const iovec* iov, int iovcnt, bool counted_by_kernel, ssize_t* result) {
  size_t total = 0;
  for (int i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
  if (total > sizeof g_naive[0].data) return false;
  const Hold h = lock();
  if (h == Hold::none) return false;
  NaiveBuf* b = nullptr;
  for (NaiveBuf& x : g_naive)
    if (x.fd == fd || (!b && x.fd == -1)) b = &x;
  if (b && b->fd != fd) {
    b->fd = fd;
    b->len = 0;
  }
  if (b) {
    if (b->len + total > sizeof b->data) naive_flush(*b);
    for (int i = 0; i < iovcnt; ++i) {
      __builtin_memcpy(b->data + b->len, iov[i].iov_base, iov[i].iov_len);
      b->len += iov[i].iov_len;
    }
    if (counted_by_kernel) note_absorbed(total);
  }
  unlock(h);
  *result = static_cast<ssize_t>(total);
  return b != nullptr;
}

bool matches_any(const char* list, char sep, const char* text) {
  char pat[256];
  size_t n = 0;
  for (const char* p = list;; ++p) {
    if (*p == sep || *p == '\0') {
      pat[n] = '\0';
      if (n && fnmatch(pat, text, 0) == 0) return true;
      n = 0;
      if (!*p) return false;
    } else if (n + 1 < sizeof pat) {
      pat[n++] = *p;
    }
  }
}

} // namespace

bool coalesce_eligible(int fd, FdKind kind, const char* path) {
  const uint32_t gen = g_flags_gen.load(std::memory_order_acquire);
  int fl = static_cast<int>(::syscall(SYS_fcntl, fd, F_GETFL));
  if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY) return false;
  if (g_coalesce.naive) return true;
  note_flags(fd, gen, unfit_flags(fl));
  // stdio writes fds 0-2 (and any fdopen'ed fd) behind valley's back: buffering next to it
  // would reorder the output (B-01). fds 0-2 only on request (VALLEY_COALESCE_STDIO).
  if ((fd <= 2 && !g_coalesce.stdio) || stdio_fd(fd)) return false;
  // With a file size limit, EFBIG and SIGXFSZ must come at the very write that crosses it.
  if (kind == FdKind::regular) {
    rlimit lim{};
    if (getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) return false;
  }
  // Never: per-message or per-command semantics, durability on every write, and non-blocking
  // fds, whose EAGAIN backpressure a buffer would hide.
  if (unfit_flags(fl)) return false;
  if (!(g_coalesce.kinds & (1u << static_cast<uint8_t>(kind)))) return false;
  switch (kind) {
  case FdKind::regular: case FdKind::pipe: case FdKind::fifo: case FdKind::tcp:
  case FdKind::unix_stream:
    break;
  default: return false;
  }
  return !g_coalesce.paths[0] || matches_any(g_coalesce.paths, ':', path);
}

void coalesce_flush(bool wait) {
  const KeepErrno keep;
  if (t_holding) return; // a signal handler interrupted this thread inside the coalescer
  if (wait) { // the program's own write on this fd would have waited, and so does this
    Hold h = lock();
    if (hold_for_flush(h, true)) flush_locked();
    unlock(h);
    return;
  }
  // Never wait for another thread's blocking flush: it may be blocked on a full pipe that this
  // very thread is about to drain (B-15), and it is making the bytes visible already. Any
  // other holder is brief (appending, checking the age, a flush that does not block) and may
  // leave bytes behind, so wait for it, in naps, for at most 50 ms.
  const uint64_t give_up = clock::monotonic_ns() + 50000000;
  do {
    Hold h = try_lock();
    if (hold_for_flush(h, false)) {
      flush_locked(Flush::nowait);
      unlock(h);
      return;
    }
    if (g_flushing.load(std::memory_order_acquire) || !g_pending.load(std::memory_order_acquire))
      return;
    const timespec nap{0, 100000};
    clock_nanosleep(CLOCK_MONOTONIC, 0, &nap, nullptr);
  } while (clock::monotonic_ns() < give_up); // (an exclusion that timed out took 1 s: done)
}

namespace {
int buffered_fd() { return std::atomic_ref(g_buf.fd).load(std::memory_order_relaxed); }
} // namespace

void coalesce_flush_for_fd(int fd) { coalesce_flush(fd >= 0 && buffered_fd() == fd); }

void coalesce_flush_for_range(unsigned lo, unsigned hi) {
  const int b = buffered_fd();
  coalesce_flush(b >= 0 && static_cast<unsigned>(b) >= lo && static_cast<unsigned>(b) <= hi);
}

void coalesce_flush_for_object(int fd) {
  const KeepErrno keep;
  const int b = buffered_fd();
  coalesce_flush(fd >= 0 && b >= 0 && (b == fd || same_object(b, fd)));
}

int coalesce_before_write(int fd, bool nonblocking, FdKind kind) {
  const KeepErrno keep;
  if (t_holding) return 0; // a signal handler inside the coalescer: straight through (B-16)
  coalesce_flush(false);
  if (!g_pending.load(std::memory_order_acquire)) return 0;
  // Bytes stay only on a full pipe or socket. This write may pass them on another object; on
  // the same one it queues behind them.
  const int b = buffered_fd();
  if (b < 0 || fd < 0 || (kind != FdKind::unknown && kind != g_buf.kind) ||
      (b != fd && !same_object(b, fd)))
    return 0;
  const int fl = static_cast<int>(::syscall(SYS_fcntl, fd, F_GETFL));
  if (nonblocking || (fl >= 0 && (fl & O_NONBLOCK))) return EAGAIN;
  coalesce_flush(true);
  return 0;
}

void coalesce_flush_ending() {
  const KeepErrno keep;
  if (!g_coalesce.on || g_coalesce.naive || !g_pending.load(std::memory_order_acquire)) return;
  if (t_holding && !t_has) return; // a handler that interrupted this thread on its way in or out
  flush_for_end(buffer_mine(), age_deadline());
}

void coalesce_before_signal(bool to_self, int sig) {
  const KeepErrno keep;
  if (to_self && signal_ends_process(sig))
    coalesce_flush_ending();
  else
    coalesce_flush(false);
}

void coalesce_flags_changed() { g_flags_gen.fetch_add(1, std::memory_order_acq_rel); }

void coalesce_shut_for_writing(int fd) { g_shut_fds.set(fd, true); }

void coalesce_untraced_child() {
  if (!g_coalesce.on) return;
  // A child of _Fork: no fork handler ran and no flusher thread lives here. Its writes go
  // straight through.
  g_final.store(true, std::memory_order_relaxed);
  reset_in_child();
}

void coalesce_forget_fd(int fd) {
  if (fd < 0 || fd >= kStickySlots) return;
  g_lone[fd].store(0, std::memory_order_relaxed);
  g_flags_seen[fd].store(0, std::memory_order_relaxed);
  g_shut_fds.set(fd, false);
}

int take_sticky_error(int fd) {
  if (fd < 0 || fd >= kStickySlots) return 0;
  if (!g_sticky[fd].load(std::memory_order_acquire)) return 0;
  uint32_t v = g_sticky[fd].exchange(0, std::memory_order_acq_rel);
  if (v & kSignalDue) raise_here(SIGPIPE); // where the program would have had it: at its write
  return static_cast<int>(v & 0xffff);
}

namespace {
// The program's write to fd goes around the buffer: false (make the real call), or true with
// *result -1 and errno EAGAIN where bytes buffered ahead of it on the same object block it.
bool straight_through(int fd, FdKind kind, ssize_t* result) {
  if (!g_pending.load(std::memory_order_acquire)) return false;
  const int err = coalesce_before_write(fd, false, kind);
  if (!err) return false;
  errno = err;
  *result = -1;
  return true;
}
} // namespace

namespace {
bool offer(int fd, const iovec* iov, int iovcnt, uint64_t ra, uint64_t now,
           bool counted_by_kernel, ssize_t* result) {
  if (!g_coalesce.on || g_final.load(std::memory_order_relaxed)) return false;
  if (t_holding) return false; // a signal handler inside the coalescer: write straight through
  if (int err = take_sticky_error(fd)) {
    errno = err;
    *result = -1;
    return true;
  }
  if (g_coalesce.naive) {
    FdKind ignored;
    return fd_coalescible(fd, ra, now, &ignored) && naive_write(fd, iov, iovcnt, counted_by_kernel, result);
  }
  // A buffered write makes no syscall, so it would no longer be a cancellation point.
  pthread_testcancel();
  uint64_t total = 0;
  for (int i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
  // A further write from the site that started the pending buffer needs no new verdict: any
  // call that could change the fd (close, dup*, fcntl, ioctl, shutdown) flushed the buffer
  // first.
  FdKind kind = g_buf.kind;
  const bool same = g_pending.load(std::memory_order_acquire) && g_buf.fd == fd && g_buf_ra == ra;
  if (!same && (!fd_coalescible(fd, ra, now, &kind) || !flags_fit(fd) || lone_writer(fd)))
    return straight_through(fd, kind, result);
  // Pipes: a write of at most PIPE_BUF bytes is atomic, so a flush may never exceed PIPE_BUF
  // nor split one of the program's writes.
  const size_t cap = (kind == FdKind::pipe || kind == FdKind::fifo) && g_coalesce.size > PIPE_BUF
                         ? PIPE_BUF
                         : g_coalesce.size;
  Hold h = try_lock();
  if (h == Hold::none) {
    // Another thread holds the buffer, perhaps blocked flushing into a pipe that this thread
    // drains: a write to another fd does not wait for it and goes straight through (only a
    // dup of the flushed fd could tell the order). A write to the fd being flushed waits, as
    // it would wait for the pipe without valley, and so does one to a dup of it.
    if (std::atomic_ref(g_buf.fd).load(std::memory_order_relaxed) != fd)
      return straight_through(fd, kind, result);
    h = lock();
    if (h == Hold::none) return false;
  }
  if (g_buf.len && g_buf.fd != fd) {
    // Another fd's bytes: out with what that fd takes without blocking, since this thread may
    // be the one that drains it. If some stay, this write goes straight through, unless both
    // fds name one pipe or socket (a dup, 2>&1): then it waits behind them, as it would
    // without valley.
    flush_locked(Flush::nowait);
    if (g_buf.len && !same_object(g_buf.fd, fd)) {
      unlock(h);
      return false;
    }
    if (g_buf.len && hold_for_flush(h, true)) flush_locked(Flush::write);
  }
  // This fd's own full buffer: wait for the fd, as the program's write would.
  if (g_buf.len && g_buf.len + total > cap && hold_for_flush(h, true)) flush_locked(Flush::write);
  if (g_buf.len && (g_buf.fd != fd || g_buf.len + total > cap)) {
    // The fd turned non-blocking behind valley's back and is full: this write is refused as
    // the kernel would refuse it, the rest goes out from the flusher thread.
    unlock(h);
    return straight_through(fd, kind, result);
  }
  if (total > cap) { // too big to gain anything: the program's own call goes through
    unlock(h);
    return false;
  }
  if (g_buf.len == 0) {
    // A pipe or socket whose reader is gone must fail this very write (EPIPE, SIGPIPE), not a
    // later flush: one poll per buffer, not per write.
    if (kind != FdKind::regular) {
      pollfd p{fd, POLLOUT, 0};
      if (::syscall(SYS_poll, &p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP))) {
        unlock(h);
        return false;
      }
    }
    std::atomic_ref(g_buf.first_ns).store(clock::monotonic_ns(), std::memory_order_relaxed);
    g_buf.fd = fd;
    g_buf.kind = kind;
  }
  g_buf_ra = ra;
  for (int i = 0; i < iovcnt; ++i) {
    __builtin_memcpy(g_data + g_buf.len, iov[i].iov_base, iov[i].iov_len);
    g_buf.len += iov[i].iov_len;
  }
  ++g_buf.writes;
  t_wrote_gen = g_buf.gen;
  if (counted_by_kernel) note_absorbed(total);
  // Stored only when it changes: other threads read it on every call, and a store of the same
  // value would still take their copy of the cache line away. (It is cleared only under the
  // buffer, which this thread holds.)
  if (!g_pending.load(std::memory_order_relaxed)) g_pending.store(true, std::memory_order_release);
  unlock(h);
  *result = static_cast<ssize_t>(total);
  return true;
}
} // namespace

bool coalesce_write(int fd, const iovec* iov, int iovcnt, uint64_t ra, uint64_t now,
                    bool counted_by_kernel, ssize_t* result) {
  // Classifying a new fd (its TCGETS probe), F_GETFL and poll run before the program's call:
  // errno stays as the program left it unless the answer is an error (I-02).
  const int saved = errno;
  const bool handled = offer(fd, iov, iovcnt, ra, now, counted_by_kernel, result);
  if (!handled || *result >= 0) errno = saved;
  return handled;
}

void coalesce_final(bool destructor) {
  const KeepErrno keep;
  if (!g_coalesce.on) return;
  if (g_coalesce.naive) {
    if (!destructor || g_final.exchange(true)) return;
    for (NaiveBuf& b : g_naive) naive_flush(b);
    return;
  }
  if (g_final.exchange(true) || t_holding) return;
  if (g_pending.load(std::memory_order_acquire)) flush_for_end(buffer_mine(), age_deadline());
}

void coalesce_thread_exiting() {
  const KeepErrno keep;
  // Its writes would have been done before it ended (and before a pthread_join returned).
  if (g_coalesce.on && !g_coalesce.naive && !t_holding && buffer_mine()) coalesce_flush(true);
}

namespace {
constinit Hold g_fork_hold = Hold::none;
constinit bool g_fork_locked = false;
} // namespace

void coalesce_fork_prepare() {
  const KeepErrno keep;
  if (!g_coalesce.on || g_coalesce.naive) return;
  // Held across fork when it can be had without waiting for a flush blocked on a full pipe:
  // fork is no wait on the buffered fd, and programs fork holding locks (CPython: the GIL) a
  // reader may need (B-18.3). Always the mutex, so the flusher (which excludes under it) is
  // not mid-flush either. Either way the child starts with an empty buffer; bytes that did not
  // fit stay the parent's.
  t_holding = true;
  g_fork_locked = false;
  g_fork_hold = Hold::none;
  const uint64_t give_up = clock::monotonic_ns() + 50000000;
  while (!(g_fork_locked = pthread_mutex_trylock(&g_lock) == 0)) {
    if (g_flushing.load(std::memory_order_acquire) || clock::monotonic_ns() >= give_up) return;
    const timespec nap{0, 100000};
    clock_nanosleep(CLOCK_MONOTONIC, 0, &nap, nullptr);
  }
  g_fork_hold = owner::is_owner() || owner::exclude() ? Hold::mutex : Hold::none;
  if (g_fork_hold == Hold::mutex) flush_locked(Flush::nowait);
}

void coalesce_fork_parent() {
  if (!g_coalesce.on || g_coalesce.naive) return;
  if (g_fork_hold == Hold::mutex && !owner::is_owner()) owner::readmit();
  if (g_fork_locked) pthread_mutex_unlock(&g_lock);
  t_holding = false;
}

void coalesce_fork_child() {
  if (!g_coalesce.on) return;
  reset_in_child();
  g_flusher_started.store(false);
  if (!g_final.load()) start_flusher(); // threads do not survive fork
}

void note_own_handler(int sig, bool ours) {
  if (sig > 0 && sig < 65) g_own[sig].store(ours, std::memory_order_relaxed);
}

bool own_handler(int sig) { return sig > 0 && sig < 65 && g_own[sig].load(std::memory_order_relaxed); }

void install_own_handler(int sig) {
  struct sigaction sa {};
  sa.sa_sigaction = on_fatal;
  sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
  if (real_sigaction(sig, &sa, nullptr) == 0) note_own_handler(sig, true);
}

void coalesce_start() {
  if (!g_coalesce.on) return;
  start_flusher();
  if (g_coalesce.naive) return;
  for (int sig : kFatal) {
    struct sigaction cur {};
    if (real_sigaction(sig, nullptr, &cur) == 0 && cur.sa_handler == SIG_DFL) install_own_handler(sig);
  }
}

bool on_flusher_thread() { return t_flusher; }

void note_stdio_fd(int fd, bool on) { g_stdio_fds.set(fd, on); }

bool stdio_fd(int fd) { return g_stdio_fds.test(fd); }

CoalesceStats coalesce_stats() {
  return {g_absorbed.load(), g_absorbed_bytes.load()};
}

} // namespace valley::shim
