// SPDX-License-Identifier: MIT
/// @file hooks_flush.cpp
/// @brief Calls that could observe bytes the coalescer still holds (waits, polls, offsets,
/// metadata, mappings, locks, child processes, signals, abort): each flushes first, then calls
/// through. With nothing buffered (always, when coalescing is off) that costs one load. Not
/// recorded: they move no data of their own (the recorded syncs and copies are in
/// shim/hooks_sync.cpp). Most are hooks.def's F lines, made by one macro; the hooks below it
/// (hooks.def's `flush` C lines) flush conditionally or do more than call through.
#include "hooks.h"
#include "sys.h"
#include "valley/flush_rules.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>

using namespace valley;
using namespace valley::shim;

namespace {
// The fallback of a call that has no one system call to stand in for it.
template <class T> T no_syscall() {
  errno = ENOSYS;
  return static_cast<T>(-1);
}
} // namespace

// hooks.def's F lines: flush (without blocking: coalesce.h), then the real function; before it
// is resolved, the raw `fallback`.
#define F(name, ret, params, args, fallback)                                                       \
  VALLEY_EXPORT ret name params {                                                                  \
    flush_before();                                                                                \
    auto f = VALLEY_REAL(name);                                                                    \
    return f ? f args : static_cast<ret>(fallback);                                                \
  }
#include "hooks.def"

// Waking another process or thread hands over whatever was written before: a signal or a
// semaphore post is a flush point (one that never blocks: CPython posts its semaphores holding
// the GIL, which the reader of a full pipe may need; B-18.3). A signal the process sends
// itself and that ends it is an end like exit (B-18.5).
namespace {
bool to_self(pid_t pid) {
  // kill(-1, …) signals every process but the caller on Linux.
  return pid == 0 || pid == sys::getpid() || (pid < -1 && -pid == getpgrp());
}
} // namespace
#define VALLEY_SIGNAL_THEN(self, sig, name, args, fallback) \
  flush_before_signal(self, sig);                          \
  auto f = VALLEY_REAL(name);                              \
  return f ? f args : (fallback)
VALLEY_EXPORT int kill(pid_t pid, int sig) noexcept {
  VALLEY_SIGNAL_THEN(to_self(pid), sig, kill, (pid, sig), static_cast<int>(syscall(SYS_kill, pid, sig)));
}
VALLEY_EXPORT int killpg(pid_t pgrp, int sig) noexcept {
  VALLEY_SIGNAL_THEN(pgrp == 0 || pgrp == getpgrp(), sig, killpg, (pgrp, sig),
                     static_cast<int>(syscall(SYS_kill, -pgrp, sig)));
}
VALLEY_EXPORT int sigqueue(pid_t pid, int sig, const union sigval value) noexcept {
  VALLEY_SIGNAL_THEN(to_self(pid), sig, sigqueue, (pid, sig, value), no_syscall<int>());
}
VALLEY_EXPORT int raise(int sig) noexcept {
  VALLEY_SIGNAL_THEN(true, sig, raise, (sig),
                     static_cast<int>(syscall(SYS_tgkill, sys::getpid(), sys::gettid(), sig)));
}
VALLEY_EXPORT int tgkill(pid_t tgid, pid_t tid, int sig) noexcept {
  VALLEY_SIGNAL_THEN(tgid == sys::getpid(), sig, tgkill, (tgid, tid, sig),
                     static_cast<int>(syscall(SYS_tgkill, tgid, tid, sig)));
}
// These return an error number, not -1.
VALLEY_EXPORT int pthread_kill(pthread_t thread, int sig) noexcept {
  VALLEY_SIGNAL_THEN(true, sig, pthread_kill, (thread, sig), ENOSYS);
}
VALLEY_EXPORT int pthread_sigqueue(pthread_t thread, int sig, const union sigval value) noexcept {
  VALLEY_SIGNAL_THEN(true, sig, pthread_sigqueue, (thread, sig, value), ENOSYS);
}
// B-20: glibc's sem_t keeps, after its 64-bit value, the futex flag sem_init chose: 0 for a
// semaphore that is not process-shared, 128 (FUTEX_PRIVATE_FLAG's value, which glibc's
// lowlevellock uses to mean shared) for sem_open's and pshared != 0. Anything but 0 flushes.
VALLEY_EXPORT int sem_post(sem_t* sem) noexcept {
  int futex_flag = 0;
  std::memcpy(&futex_flag, reinterpret_cast<const char*>(sem) + 8, sizeof futex_flag);
  if (sem_post_flushes(futex_flag != 0)) flush_before();
  auto f = VALLEY_REAL(sem_post);
  return f ? f(sem) : no_syscall<int>();
}

// stdio on an fd valley may buffer: flush first, and from fdopen on never buffer it again;
// fclose and closefrom close fds inside libc, where the close hook never sees them.
VALLEY_EXPORT FILE* fdopen(int fd, const char* mode) noexcept {
  flush_before_fd(fd);
  fd_given_to_stdio(fd);
  auto f = VALLEY_REAL(fdopen);
  return f ? f(fd, mode) : nullptr;
}
VALLEY_EXPORT int fclose(FILE* stream) {
  const int fd = stream ? fileno(stream) : -1;
  flush_before_fd(fd);
  fd_closing(fd);
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(fclose);
  int r = f ? f(stream) : EOF;
  if (fd < 0) return r;
  return fd_closed(fd, static_cast<int>(io_done(Op::close, fd, 0, 0, -1, r, t0, VALLEY_RA)));
}
VALLEY_EXPORT void closefrom(int lowfd) noexcept {
  flush_before_range(static_cast<unsigned>(lowfd < 0 ? 0 : lowfd), ~0u);
  auto f = VALLEY_REAL(closefrom);
  if (f) f(lowfd);
  else syscall(SYS_close_range, lowfd, ~0u, 0);
  fd_range_closed(static_cast<unsigned>(lowfd < 0 ? 0 : lowfd), ~0u, 0, 0);
}

// _Fork runs no fork handler, so the child would start with a copy of the buffered bytes (the
// parent's to write): they go out before it exists. The child, with no flusher thread, writes
// straight through. Its calls land in the parent's trace.
VALLEY_EXPORT pid_t _Fork() noexcept {
  flush_before();
  auto f = VALLEY_REAL(_Fork);
  const pid_t pid = f ? f() : static_cast<pid_t>(syscall(SYS_fork));
  if (pid == 0) coalesce_untraced_child();
  return pid;
}
VALLEY_EXPORT void abort() noexcept {
  image_ending();
  auto f = VALLEY_REAL(abort);
  if (f) f();
  raise(SIGABRT);
  syscall(SYS_exit_group, 134);
  __builtin_unreachable();
}

// valley's fatal-signal handlers (installed only while coalescing, only where the program
// left the default action) must stay invisible: the program reads SIG_DFL there, and setting
// SIG_DFL keeps valley's handler in place.
VALLEY_EXPORT int sigaction(int sig, const struct sigaction* act, struct sigaction* old) noexcept {
  auto f = VALLEY_REAL(sigaction);
  if (!f) return no_syscall<int>();
  const bool ours = own_handler(sig);
  if (act && ours && act->sa_handler == SIG_DFL && !(act->sa_flags & SA_SIGINFO)) {
    int r = old ? f(sig, nullptr, old) : 0;
    if (r == 0 && old) *old = {};
    return r;
  }
  int r = f(sig, act, old);
  if (r == 0) {
    if (old && ours) *old = {};
    if (act) note_own_handler(sig, false);
  }
  return r;
}

VALLEY_EXPORT sighandler_t signal(int sig, sighandler_t handler) noexcept {
  auto f = VALLEY_REAL(signal);
  if (!f) return SIG_ERR;
  const bool ours = own_handler(sig);
  if (ours && handler == SIG_DFL) return SIG_DFL;
  sighandler_t prev = f(sig, handler);
  if (prev == SIG_ERR) return prev;
  if (ours) note_own_handler(sig, false);
  return ours ? SIG_DFL : prev;
}

// hooks.def's C lines of this file give the types of the hooks above.
#define VALLEY_C_LINE_flush(...) __VA_ARGS__
#include "hook_checks.h"
