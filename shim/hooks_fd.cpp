// SPDX-License-Identifier: MIT
/// @file hooks_fd.cpp
/// @brief Calls that create, replace or close fds: the fd table forgets what the fd was, so the
/// next I/O call classifies it afresh.
#include "hooks.h"

#include <cstdarg>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

using namespace valley;
using namespace valley::shim;

namespace {

// open's third argument exists only with O_CREAT or O_TMPFILE (man 2 open).
bool needs_mode(int flags) { return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE; }

// Every open function is one Op: the new fd is classified afresh (its FileRow holds the path)
// and the call is recorded on it; a failed open on fd -1, with its path in a FileRow of its own.
int opened(uint64_t t0, uint64_t ra, const char* path, int r) {
  if (r < 0) return path_done(Op::open, path, r, t0, ra);
  fd_created(r);
  return static_cast<int>(io_done(Op::open, r, 0, 0, -1, r, t0, ra));
}

} // namespace

// Declares `mode`: the variadic third argument of the open family, 0 when there is none.
#define VALLEY_OPEN_MODE(flags)                                                         \
  mode_t mode = 0;                                                                      \
  if (needs_mode(flags)) {                                                              \
    va_list ap;                                                                         \
    va_start(ap, flags);                                                                \
    mode = static_cast<mode_t>(va_arg(ap, int));                                        \
    va_end(ap);                                                                         \
  }

VALLEY_EXPORT int open(const char* path, int flags, ...) {
  flush_before();
  VALLEY_OPEN_MODE(flags);
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(open);
  return opened(t0, VALLEY_RA, path, f ? f(path, flags, mode) : static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, flags, mode)));
}

VALLEY_EXPORT int open64(const char* path, int flags, ...) {
  flush_before();
  VALLEY_OPEN_MODE(flags);
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(open64);
  return opened(t0, VALLEY_RA, path, f ? f(path, flags, mode) : static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, flags, mode)));
}

VALLEY_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
  flush_before();
  VALLEY_OPEN_MODE(flags);
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(openat);
  return opened(t0, VALLEY_RA, path, f ? f(dirfd, path, flags, mode) : static_cast<int>(syscall(SYS_openat, dirfd, path, flags, mode)));
}

VALLEY_EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
  flush_before();
  VALLEY_OPEN_MODE(flags);
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(openat64);
  return opened(t0, VALLEY_RA, path, f ? f(dirfd, path, flags, mode) : static_cast<int>(syscall(SYS_openat, dirfd, path, flags, mode)));
}

VALLEY_EXPORT int creat(const char* path, mode_t mode) {
  flush_before();
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(creat);
  return opened(t0, VALLEY_RA, path, f ? f(path, mode) : static_cast<int>(syscall(SYS_creat, path, mode)));
}

VALLEY_EXPORT int creat64(const char* path, mode_t mode) {
  flush_before();
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(creat64);
  return opened(t0, VALLEY_RA, path, f ? f(path, mode) : static_cast<int>(syscall(SYS_creat, path, mode)));
}

// The fortified open family (flags not known at compile time).
VALLEY_EXPORT int __open_2(const char* path, int flags) {
  flush_before();
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(__open_2);
  return opened(t0, VALLEY_RA, path, f ? f(path, flags) : static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, flags, 0)));
}

VALLEY_EXPORT int __open64_2(const char* path, int flags) {
  flush_before();
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(__open64_2);
  return opened(t0, VALLEY_RA, path, f ? f(path, flags) : static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, flags, 0)));
}

VALLEY_EXPORT int __openat_2(int dirfd, const char* path, int flags) {
  flush_before();
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(__openat_2);
  return opened(t0, VALLEY_RA, path, f ? f(dirfd, path, flags) : static_cast<int>(syscall(SYS_openat, dirfd, path, flags, 0)));
}

VALLEY_EXPORT int __openat64_2(int dirfd, const char* path, int flags) {
  flush_before();
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(__openat64_2);
  return opened(t0, VALLEY_RA, path, f ? f(dirfd, path, flags) : static_cast<int>(syscall(SYS_openat, dirfd, path, flags, 0)));
}

VALLEY_EXPORT int socket(int domain, int type, int protocol) noexcept {
  flush_before();
  auto f = VALLEY_REAL(socket);
  return fd_created(f ? f(domain, type, protocol) : static_cast<int>(syscall(SYS_socket, domain, type, protocol)));
}

VALLEY_EXPORT int socketpair(int domain, int type, int protocol, int sv[2]) noexcept {
  flush_before();
  auto f = VALLEY_REAL(socketpair);
  return fd_pair_created(f ? f(domain, type, protocol, sv)
                           : static_cast<int>(syscall(SYS_socketpair, domain, type, protocol, sv)),
                         sv);
}

VALLEY_EXPORT int accept(int fd, sockaddr* addr, socklen_t* len) {
  flush_before();
  auto f = VALLEY_REAL(accept);
  return fd_created(f ? f(fd, addr, len) : static_cast<int>(syscall(SYS_accept, fd, addr, len)));
}

VALLEY_EXPORT int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  flush_before();
  auto f = VALLEY_REAL(accept4);
  return fd_created(f ? f(fd, addr, len, flags) : static_cast<int>(syscall(SYS_accept4, fd, addr, len, flags)));
}

VALLEY_EXPORT int pipe(int fds[2]) noexcept {
  flush_before();
  auto f = VALLEY_REAL(pipe);
  return fd_pair_created(f ? f(fds) : static_cast<int>(syscall(SYS_pipe2, fds, 0)), fds);
}

VALLEY_EXPORT int pipe2(int fds[2], int flags) noexcept {
  flush_before();
  auto f = VALLEY_REAL(pipe2);
  return fd_pair_created(f ? f(fds, flags) : static_cast<int>(syscall(SYS_pipe2, fds, flags)), fds);
}

VALLEY_EXPORT int dup(int fd) noexcept {
  flush_before();
  auto f = VALLEY_REAL(dup);
  return fd_created(f ? f(fd) : static_cast<int>(syscall(SYS_dup, fd)));
}

// Replacing fd2 closes what it named: its bytes go out first.
VALLEY_EXPORT int dup2(int fd, int fd2) noexcept {
  flush_before_fd(fd2);
  auto f = VALLEY_REAL(dup2);
  return fd_created(f ? f(fd, fd2) : static_cast<int>(syscall(SYS_dup2, fd, fd2)));
}

VALLEY_EXPORT int dup3(int fd, int fd2, int flags) noexcept {
  flush_before_fd(fd2);
  auto f = VALLEY_REAL(dup3);
  return fd_created(f ? f(fd, fd2, flags) : static_cast<int>(syscall(SYS_dup3, fd, fd2, flags)));
}

namespace {

// New status flags (O_NONBLOCK, O_DIRECT, …) belong to the open file description: every fd
// that shares it may change, so buffered bytes go out under the old flags first.
void fcntl_before(int fd, int cmd) {
  if (cmd == F_SETFL)
    flush_before_object(fd);
  else
    flush_before();
}

// fcntl's third argument is read as a pointer-sized value, as glibc does.
int fcntl_done(int fd, int cmd, int r) {
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) return fd_created(r);
  if (cmd == F_SETFL && r == 0) {
    fd_flags_changed(fd);
    coalesce_flags_changed();
  }
  return r;
}

} // namespace

VALLEY_EXPORT int fcntl(int fd, int cmd, ...) {
  fcntl_before(fd, cmd);
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  auto f = VALLEY_REAL(fcntl);
  return fcntl_done(fd, cmd, f ? f(fd, cmd, arg) : static_cast<int>(syscall(SYS_fcntl, fd, cmd, arg)));
}

VALLEY_EXPORT int fcntl64(int fd, int cmd, ...) {
  fcntl_before(fd, cmd);
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  auto f = VALLEY_REAL(fcntl64);
  return fcntl_done(fd, cmd, f ? f(fd, cmd, arg) : static_cast<int>(syscall(SYS_fcntl, fd, cmd, arg)));
}

// ioctl(FIONBIO) switches the blocking mode like F_SETFL (CPython's setblocking and
// settimeout use it); any other ioctl may look at what was written (FIONREAD, SIOCOUTQ).
VALLEY_EXPORT int ioctl(int fd, unsigned long req, ...) noexcept {
  va_list ap;
  va_start(ap, req);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  const bool mode = req == FIONBIO;
  if (mode)
    flush_before_object(fd);
  else
    flush_before();
  auto f = VALLEY_REAL(ioctl);
  int r = f ? f(fd, req, arg) : static_cast<int>(syscall(SYS_ioctl, fd, req, arg));
  if (mode && r == 0) coalesce_flags_changed();
  return r;
}

// Recorded on the fd it closed, before valley forgets what the fd was.
VALLEY_EXPORT int close(int fd) {
  flush_before_fd(fd);
  fd_closing(fd);
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(close);
  const int r = sticky_or(fd, f ? f(fd) : static_cast<int>(syscall(SYS_close, fd)));
  return fd_closed(fd, static_cast<int>(io_done(Op::close, fd, 0, 0, -1, r, t0, VALLEY_RA)));
}

// hooks.def's T lines of this file (__close).
#define VALLEY_THIS_FILE_fd(...) __VA_ARGS__
#define VALLEY_THIS_FILE_io(...)
#define VALLEY_THIS_FILE_socket(...)
#define T(file, name, twin) VALLEY_THIS_FILE_##file(VALLEY_TWIN(name, twin))
#include "hooks.def"

VALLEY_EXPORT int close_range(unsigned lo, unsigned hi, int flags) noexcept {
  if (flags & CLOSE_RANGE_CLOEXEC)
    flush_before();
  else
    flush_before_range(lo, hi);
  auto f = VALLEY_REAL(close_range);
  return fd_range_closed(lo, hi, flags, f ? f(lo, hi, flags) : static_cast<int>(syscall(SYS_close_range, lo, hi, flags)));
}

VALLEY_EXPORT int eventfd(unsigned count, int flags) noexcept {
  flush_before();
  auto f = VALLEY_REAL(eventfd);
  return fd_created(f ? f(count, flags) : static_cast<int>(syscall(SYS_eventfd2, count, flags)));
}

VALLEY_EXPORT int timerfd_create(int clockid, int flags) noexcept {
  flush_before();
  auto f = VALLEY_REAL(timerfd_create);
  return fd_created(f ? f(clockid, flags) : static_cast<int>(syscall(SYS_timerfd_create, clockid, flags)));
}

VALLEY_EXPORT int signalfd(int fd, const sigset_t* mask, int flags) noexcept {
  flush_before();
  auto f = VALLEY_REAL(signalfd);
  return fd_created(f ? f(fd, mask, flags) : static_cast<int>(syscall(SYS_signalfd4, fd, mask, 8, flags)));
}

VALLEY_EXPORT int inotify_init() noexcept {
  flush_before();
  auto f = VALLEY_REAL(inotify_init);
  return fd_created(f ? f() : static_cast<int>(syscall(SYS_inotify_init1, 0)));
}

VALLEY_EXPORT int inotify_init1(int flags) noexcept {
  flush_before();
  auto f = VALLEY_REAL(inotify_init1);
  return fd_created(f ? f(flags) : static_cast<int>(syscall(SYS_inotify_init1, flags)));
}

VALLEY_EXPORT int epoll_create(int size) noexcept {
  flush_before();
  auto f = VALLEY_REAL(epoll_create);
  return fd_created(f ? f(size) : static_cast<int>(syscall(SYS_epoll_create1, 0)));
}

VALLEY_EXPORT int epoll_create1(int flags) noexcept {
  flush_before();
  auto f = VALLEY_REAL(epoll_create1);
  return fd_created(f ? f(flags) : static_cast<int>(syscall(SYS_epoll_create1, flags)));
}

VALLEY_EXPORT int memfd_create(const char* name, unsigned flags) noexcept {
  flush_before();
  auto f = VALLEY_REAL(memfd_create);
  return fd_created(f ? f(name, flags) : static_cast<int>(syscall(SYS_memfd_create, name, flags)));
}

// hooks.def's C lines of this file give the types of the hooks above.
#define VALLEY_C_LINE_fd(...) __VA_ARGS__
#include "hook_checks.h"
