// SPDX-License-Identifier: MIT
/// @file hooks_flush.cpp
/// @brief Calls that could observe bytes the coalescer still holds (waits, polls, offsets,
/// metadata, mappings, locks, child processes, abort): each flushes first, then calls through.
/// With nothing buffered (always, when coalescing is off) that costs one load. Not recorded:
/// they move no data of their own (the recorded syncs and copies are in shim/hooks_sync.cpp).
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

// Flush (without blocking: coalesce.h), then the real function; before it is resolved, the
// raw syscall `fallback`.
#define VALLEY_FLUSH_THEN(name, args, fallback) \
  flush_before();                               \
  auto f = VALLEY_REAL(name);                   \
  return f ? f args : (fallback)

namespace {
template <class T> T no_syscall() {
  errno = ENOSYS;
  return static_cast<T>(-1);
}
} // namespace

VALLEY_EXPORT int poll(pollfd* fds, nfds_t n, int timeout) {
  VALLEY_FLUSH_THEN(poll, (fds, n, timeout), static_cast<int>(syscall(SYS_poll, fds, n, timeout)));
}
VALLEY_EXPORT int ppoll(pollfd* fds, nfds_t n, const timespec* t, const sigset_t* m) {
  VALLEY_FLUSH_THEN(ppoll, (fds, n, t, m), static_cast<int>(syscall(SYS_ppoll, fds, n, t, m, 8)));
}
VALLEY_EXPORT int __poll_chk(pollfd* fds, nfds_t n, int timeout, size_t len) {
  VALLEY_FLUSH_THEN(__poll_chk, (fds, n, timeout, len), static_cast<int>(syscall(SYS_poll, fds, n, timeout)));
}
VALLEY_EXPORT int __ppoll_chk(pollfd* fds, nfds_t n, const timespec* t, const sigset_t* m, size_t len) {
  VALLEY_FLUSH_THEN(__ppoll_chk, (fds, n, t, m, len), static_cast<int>(syscall(SYS_ppoll, fds, n, t, m, 8)));
}
VALLEY_EXPORT int select(int n, fd_set* r, fd_set* w, fd_set* e, timeval* t) {
  VALLEY_FLUSH_THEN(select, (n, r, w, e, t), static_cast<int>(syscall(SYS_select, n, r, w, e, t)));
}
VALLEY_EXPORT int pselect(int n, fd_set* r, fd_set* w, fd_set* e, const timespec* t, const sigset_t* m) {
  VALLEY_FLUSH_THEN(pselect, (n, r, w, e, t, m), no_syscall<int>());
}
VALLEY_EXPORT int epoll_wait(int ep, epoll_event* ev, int max, int timeout) {
  VALLEY_FLUSH_THEN(epoll_wait, (ep, ev, max, timeout), static_cast<int>(syscall(SYS_epoll_wait, ep, ev, max, timeout)));
}
VALLEY_EXPORT int epoll_pwait(int ep, epoll_event* ev, int max, int timeout, const sigset_t* m) {
  VALLEY_FLUSH_THEN(epoll_pwait, (ep, ev, max, timeout, m),
                    static_cast<int>(syscall(SYS_epoll_pwait, ep, ev, max, timeout, m, 8)));
}

VALLEY_EXPORT pid_t wait(int* status) {
  VALLEY_FLUSH_THEN(wait, (status), static_cast<pid_t>(syscall(SYS_wait4, -1, status, 0, nullptr)));
}
VALLEY_EXPORT pid_t waitpid(pid_t pid, int* status, int options) {
  VALLEY_FLUSH_THEN(waitpid, (pid, status, options),
                    static_cast<pid_t>(syscall(SYS_wait4, pid, status, options, nullptr)));
}
VALLEY_EXPORT int waitid(idtype_t type, id_t id, siginfo_t* info, int options) {
  VALLEY_FLUSH_THEN(waitid, (type, id, info, options),
                    static_cast<int>(syscall(SYS_waitid, type, id, info, options, nullptr)));
}
VALLEY_EXPORT pid_t wait3(int* status, int options, rusage* ru) noexcept {
  VALLEY_FLUSH_THEN(wait3, (status, options, ru), static_cast<pid_t>(syscall(SYS_wait4, -1, status, options, ru)));
}
VALLEY_EXPORT pid_t wait4(pid_t pid, int* status, int options, rusage* ru) noexcept {
  VALLEY_FLUSH_THEN(wait4, (pid, status, options, ru), static_cast<pid_t>(syscall(SYS_wait4, pid, status, options, ru)));
}

VALLEY_EXPORT off_t lseek(int fd, off_t off, int whence) noexcept {
  VALLEY_FLUSH_THEN(lseek, (fd, off, whence), static_cast<off_t>(syscall(SYS_lseek, fd, off, whence)));
}
VALLEY_EXPORT off_t lseek64(int fd, off_t off, int whence) noexcept {
  VALLEY_FLUSH_THEN(lseek64, (fd, off, whence), static_cast<off_t>(syscall(SYS_lseek, fd, off, whence)));
}
VALLEY_EXPORT int ftruncate(int fd, off_t len) noexcept {
  VALLEY_FLUSH_THEN(ftruncate, (fd, len), static_cast<int>(syscall(SYS_ftruncate, fd, len)));
}
VALLEY_EXPORT int ftruncate64(int fd, off_t len) noexcept {
  VALLEY_FLUSH_THEN(ftruncate64, (fd, len), static_cast<int>(syscall(SYS_ftruncate, fd, len)));
}
VALLEY_EXPORT int truncate(const char* path, off_t len) noexcept {
  VALLEY_FLUSH_THEN(truncate, (path, len), static_cast<int>(syscall(SYS_truncate, path, len)));
}
VALLEY_EXPORT int fstat(int fd, struct stat* st) noexcept {
  VALLEY_FLUSH_THEN(fstat, (fd, st), static_cast<int>(syscall(SYS_fstat, fd, st)));
}
VALLEY_EXPORT int fstat64(int fd, struct stat64* st) noexcept {
  VALLEY_FLUSH_THEN(fstat64, (fd, st), static_cast<int>(syscall(SYS_fstat, fd, st)));
}
VALLEY_EXPORT int fstatat(int dir, const char* path, struct stat* st, int flags) noexcept {
  VALLEY_FLUSH_THEN(fstatat, (dir, path, st, flags), static_cast<int>(syscall(SYS_newfstatat, dir, path, st, flags)));
}
VALLEY_EXPORT int fstatat64(int dir, const char* path, struct stat64* st, int flags) noexcept {
  VALLEY_FLUSH_THEN(fstatat64, (dir, path, st, flags), static_cast<int>(syscall(SYS_newfstatat, dir, path, st, flags)));
}
VALLEY_EXPORT int stat(const char* path, struct stat* st) noexcept {
  VALLEY_FLUSH_THEN(stat, (path, st), static_cast<int>(syscall(SYS_newfstatat, AT_FDCWD, path, st, 0)));
}
VALLEY_EXPORT int stat64(const char* path, struct stat64* st) noexcept {
  VALLEY_FLUSH_THEN(stat64, (path, st), static_cast<int>(syscall(SYS_newfstatat, AT_FDCWD, path, st, 0)));
}
VALLEY_EXPORT int lstat(const char* path, struct stat* st) noexcept {
  VALLEY_FLUSH_THEN(lstat, (path, st), static_cast<int>(syscall(SYS_newfstatat, AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW)));
}
VALLEY_EXPORT int lstat64(const char* path, struct stat64* st) noexcept {
  VALLEY_FLUSH_THEN(lstat64, (path, st), static_cast<int>(syscall(SYS_newfstatat, AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW)));
}
VALLEY_EXPORT int statx(int dir, const char* path, int flags, unsigned mask, struct statx* st) noexcept {
  VALLEY_FLUSH_THEN(statx, (dir, path, flags, mask, st), static_cast<int>(syscall(SYS_statx, dir, path, flags, mask, st)));
}
// Binaries built against glibc before 2.33 call these instead of fstat and stat.
VALLEY_EXPORT int __fxstat(int ver, int fd, struct stat* st) noexcept {
  VALLEY_FLUSH_THEN(__fxstat, (ver, fd, st), static_cast<int>(syscall(SYS_fstat, fd, st)));
}
VALLEY_EXPORT int __fxstat64(int ver, int fd, struct stat64* st) noexcept {
  VALLEY_FLUSH_THEN(__fxstat64, (ver, fd, st), static_cast<int>(syscall(SYS_fstat, fd, st)));
}
VALLEY_EXPORT int __xstat(int ver, const char* path, struct stat* st) noexcept {
  VALLEY_FLUSH_THEN(__xstat, (ver, path, st), static_cast<int>(syscall(SYS_newfstatat, AT_FDCWD, path, st, 0)));
}
VALLEY_EXPORT int __xstat64(int ver, const char* path, struct stat64* st) noexcept {
  VALLEY_FLUSH_THEN(__xstat64, (ver, path, st), static_cast<int>(syscall(SYS_newfstatat, AT_FDCWD, path, st, 0)));
}

VALLEY_EXPORT void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) noexcept {
  VALLEY_FLUSH_THEN(mmap, (addr, len, prot, flags, fd, off), sys::mmap(addr, len, prot, flags, fd, off));
}
VALLEY_EXPORT void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off_t off) noexcept {
  VALLEY_FLUSH_THEN(mmap64, (addr, len, prot, flags, fd, off), sys::mmap(addr, len, prot, flags, fd, off));
}
VALLEY_EXPORT void sync() noexcept {
  flush_before();
  auto f = VALLEY_REAL(sync);
  if (f) f();
  else syscall(SYS_sync);
}
VALLEY_EXPORT int syncfs(int fd) noexcept {
  VALLEY_FLUSH_THEN(syncfs, (fd), static_cast<int>(syscall(SYS_syncfs, fd)));
}
VALLEY_EXPORT int flock(int fd, int op) noexcept {
  VALLEY_FLUSH_THEN(flock, (fd, op), static_cast<int>(syscall(SYS_flock, fd, op)));
}
VALLEY_EXPORT int lockf(int fd, int cmd, off_t len) {
  VALLEY_FLUSH_THEN(lockf, (fd, cmd, len), no_syscall<int>());
}
VALLEY_EXPORT int lockf64(int fd, int cmd, off_t len) {
  VALLEY_FLUSH_THEN(lockf64, (fd, cmd, len), no_syscall<int>());
}

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

// Children see the file system and inherited fds as they are now.
VALLEY_EXPORT int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* fa,
                              const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  VALLEY_FLUSH_THEN(posix_spawn, (pid, path, fa, attr, argv, envp), no_syscall<int>());
}
VALLEY_EXPORT int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* fa,
                               const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  VALLEY_FLUSH_THEN(posix_spawnp, (pid, file, fa, attr, argv, envp), no_syscall<int>());
}
VALLEY_EXPORT int system(const char* cmd) {
  VALLEY_FLUSH_THEN(system, (cmd), no_syscall<int>());
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
VALLEY_EXPORT FILE* popen(const char* cmd, const char* mode) {
  flush_before();
  auto f = VALLEY_REAL(popen);
  return f ? f(cmd, mode) : nullptr;
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
