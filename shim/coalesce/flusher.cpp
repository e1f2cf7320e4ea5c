// SPDX-License-Identifier: MIT
/// @file flusher.cpp
/// @brief The ends of buffered bytes: the flusher thread's age bound, the image's end (exit,
/// exec, fatal signals, signals a process sends itself), a thread's end, and fork.
#include "buffer.h"

#include "clock.h"
#include "diag.h"
#include "real.h"
#include "recorder.h"
#include "sys.h"

#include <algorithm>
#include <csignal>
#include <poll.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace valley::shim::coalesce {
namespace {

constinit std::atomic<bool> g_flusher_started{false};

// B-18.7: whether every thread of the program has ended and only this one is left. glibc ends
// the process (exit(0)) when its last thread returns; the flusher is a thread too, so without
// this check a program whose main thread called pthread_exit, or a child forked from a thread
// whose thread returned, would live on as a zombie leader plus the flusher, for ever. The leader
// of such a process is a zombie (state Z in /proc/self/stat) and the count of threads is 2: it
// and this one. Nothing else can start a thread then.
bool only_flusher_left() {
  char buf[1024];
  if (sys::read_file("/proc/self/stat", buf, sizeof buf) <= 0) return false;
  const char* p = nullptr;
  for (const char* q = buf; *q; ++q)
    if (*q == ')') p = q; // the command may itself contain ')'
  if (!p || p[1] != ' ' || p[2] != 'Z') return false;
  int fieldno = 3;
  for (p += 3; *p && fieldno < 20; ++p)
    if (*p == ' ') ++fieldno;
  return p[0] == '2' && p[1] == ' ';
}

// Bounds the age of buffered bytes. All signals blocked: it must never take the program's.
void* flusher(void*) {
  t_flusher = true;
  own_thread_started();
  const uint64_t age_ns = uint64_t{g_coalesce.max_age_us} * 1000;
  constexpr uint64_t kMinNap = 100000;
  constexpr uint64_t kAlonePeriod = 50000000; // /proc is read at most 20 times a second
  const uint64_t idle_nap = std::max(age_ns / 2, kMinNap);
  uint64_t nap_ns = idle_nap;
  uint64_t alone_checked = clock::monotonic_ns();
  while (!g_final.load(std::memory_order_acquire)) {
    if (const uint64_t now = clock::monotonic_ns(); now - alone_checked >= kAlonePeriod) {
      alone_checked = now;
      if (only_flusher_left()) {
        const FlushBecause why(FlushReason::end);
        lock();
        if (g_buf.len) flush_locked();
        unlock();
        return nullptr; // glibc ends the process: its last thread returned
      }
    }
    // Idle, it looks every age/2; with bytes buffered it wakes when the oldest is due, so no
    // byte waits much longer than the age bound (not up to 1.5 times it).
    const timespec nap{static_cast<time_t>(nap_ns / 1000000000),
                       static_cast<long>(nap_ns % 1000000000)};
    clock_nanosleep(CLOCK_MONOTONIC, 0, &nap, nullptr);
    nap_ns = idle_nap;
    if (!g_pending.load(std::memory_order_acquire)) continue;
    // Unlocked, first_ns is only a hint (the buffer may be refilled meanwhile).
    uint64_t waited = clock::monotonic_ns() - std::atomic_ref(g_buf.first_ns).load(std::memory_order_relaxed);
    if (waited < age_ns) {
      nap_ns = std::max(age_ns - waited, kMinNap);
      continue;
    }
    const FlushBecause why(FlushReason::age);
    lock();
    if (g_buf.len) {
      waited = clock::monotonic_ns() - g_buf.first_ns;
      if (waited >= age_ns) flush_locked();
      else nap_ns = std::max(age_ns - waited, kMinNap);
    }
    unlock();
  }
  return nullptr;
}

// Signals whose default action ends the process: buffered bytes are written first.
constexpr int kFatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTERM,
                          SIGINT,  SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM};

constinit std::atomic<bool> g_own[65]{};

// A synchronous fault of this very thread: the program's own doing, like its exit.
bool own_fault(int sig, const siginfo_t* si) {
  return si && si->si_code > 0 &&
         (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE);
}

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

void install_own_handler(int sig) {
  struct sigaction sa {};
  sa.sa_sigaction = on_fatal;
  sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
  if (real_sigaction(sig, &sa, nullptr) == 0) note_own_handler(sig, true);
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

constinit bool g_fork_locked = false;

} // namespace

void start_flusher() {
  if (g_flusher_started.exchange(true)) return;
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
  const FlushBecause why(FlushReason::end);
  const bool held = held_by_me();
  if (!held && wait) {
    lock();
  } else if (!held) {
    while (!try_lock()) {
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
  if (!held) unlock();
}

} // namespace valley::shim::coalesce

namespace valley::shim {
using namespace coalesce;

void coalesce_flush_ending() {
  if (!g_coalesce.on || !g_pending.load(std::memory_order_acquire)) return;
  const KeepErrno keep;
  const Frame frame;
  if (frame.nested()) return; // a handler that interrupted this thread inside valley
  flush_for_end(buffer_mine(), age_deadline());
}

void coalesce_before_signal(bool to_self, int sig) {
  const KeepErrno keep;
  if (to_self && signal_ends_process(sig)) {
    coalesce_flush_ending();
    return;
  }
  const Frame frame;
  const FlushBecause why(FlushReason::process);
  if (!frame.nested()) flush_any(false);
}

void coalesce_final() {
  if (!g_coalesce.on) return;
  const KeepErrno keep;
  const Frame frame;
  if (frame.nested() || g_final.exchange(true)) return;
  if (g_pending.load(std::memory_order_acquire)) flush_for_end(buffer_mine(), age_deadline());
}

void coalesce_thread_exiting() {
  // Its writes would have been done before it ended (and before a pthread_join returned).
  if (!g_coalesce.on || !buffer_mine()) return;
  const KeepErrno keep;
  const Frame frame;
  const FlushBecause why(FlushReason::end);
  if (!frame.nested()) flush_any(true);
}

void coalesce_fork_prepare() {
  if (!g_coalesce.on) return;
  const KeepErrno keep;
  // Held across fork when it can be had without waiting for a flush blocked on a full pipe:
  // fork is no wait on the buffered fd, and programs fork holding locks (CPython: the GIL) a
  // reader may need (B-18.3). Either way the child starts with an empty buffer; bytes that did
  // not fit stay the parent's.
  g_fork_locked = false;
  if (held_by_me()) return;
  const uint64_t give_up = clock::monotonic_ns() + 50000000;
  while (!(g_fork_locked = try_lock())) {
    if (g_flushing.load(std::memory_order_acquire) || clock::monotonic_ns() >= give_up) return;
    const timespec nap{0, 100000};
    clock_nanosleep(CLOCK_MONOTONIC, 0, &nap, nullptr);
  }
  const FlushBecause why(FlushReason::process);
  flush_locked(Flush::nowait);
}

void coalesce_fork_parent() {
  if (g_coalesce.on && g_fork_locked) unlock();
}

void coalesce_fork_child() {
  if (!g_coalesce.on) return;
  reset_in_child();
  g_flusher_started.store(false);
  if (!g_final.load()) start_flusher(); // threads do not survive fork
}

void coalesce_untraced_child() {
  if (!g_coalesce.on) return;
  // A child of _Fork: no fork handler ran and no flusher thread lives here. Its writes go
  // straight through.
  g_final.store(true, std::memory_order_relaxed);
  reset_in_child();
}

void note_own_handler(int sig, bool ours) {
  if (sig > 0 && sig < 65) g_own[sig].store(ours, std::memory_order_relaxed);
}

bool own_handler(int sig) { return sig > 0 && sig < 65 && g_own[sig].load(std::memory_order_relaxed); }

void coalesce_start() {
  if (!g_coalesce.on) return;
  start_flusher();
  for (int sig : kFatal) {
    struct sigaction cur {};
    if (real_sigaction(sig, nullptr, &cur) == 0 && cur.sa_handler == SIG_DFL) install_own_handler(sig);
  }
}

} // namespace valley::shim
