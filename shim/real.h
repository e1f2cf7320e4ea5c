// SPDX-License-Identifier: MIT
/// @file real.h
/// @brief The libc functions valley wraps, resolved with dlsym(RTLD_NEXT) once, eagerly from
/// the constructor and lazily from the first hook that runs before it.
#pragma once

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <type_traits>

// X(name, type): every wrapped function and its signature.
#define VALLEY_REAL_FUNCS(X)                                                                       \
  X(write, ssize_t(int, const void*, size_t))                                                      \
  X(__write, ssize_t(int, const void*, size_t))                                                    \
  X(writev, ssize_t(int, const iovec*, int))                                                       \
  X(pwrite, ssize_t(int, const void*, size_t, off_t))                                              \
  X(pwrite64, ssize_t(int, const void*, size_t, off_t))                                            \
  X(pwritev, ssize_t(int, const iovec*, int, off_t))                                               \
  X(pwritev64, ssize_t(int, const iovec*, int, off_t))                                             \
  X(pwritev2, ssize_t(int, const iovec*, int, off_t, int))                                         \
  X(pwritev64v2, ssize_t(int, const iovec*, int, off_t, int))                                      \
  X(send, ssize_t(int, const void*, size_t, int))                                                  \
  X(__send, ssize_t(int, const void*, size_t, int))                                                \
  X(sendto, ssize_t(int, const void*, size_t, int, const sockaddr*, socklen_t))                    \
  X(sendmsg, ssize_t(int, const msghdr*, int))                                                     \
  X(sendmmsg, int(int, mmsghdr*, unsigned, int))                                                   \
  X(read, ssize_t(int, void*, size_t))                                                             \
  X(__read, ssize_t(int, void*, size_t))                                                           \
  X(readv, ssize_t(int, const iovec*, int))                                                        \
  X(pread, ssize_t(int, void*, size_t, off_t))                                                     \
  X(pread64, ssize_t(int, void*, size_t, off_t))                                                   \
  X(preadv, ssize_t(int, const iovec*, int, off_t))                                                \
  X(preadv64, ssize_t(int, const iovec*, int, off_t))                                              \
  X(preadv2, ssize_t(int, const iovec*, int, off_t, int))                                          \
  X(preadv64v2, ssize_t(int, const iovec*, int, off_t, int))                                       \
  X(recv, ssize_t(int, void*, size_t, int))                                                        \
  X(recvfrom, ssize_t(int, void*, size_t, int, sockaddr*, socklen_t*))                             \
  X(recvmsg, ssize_t(int, msghdr*, int))                                                           \
  X(recvmmsg, int(int, mmsghdr*, unsigned, int, timespec*))                                        \
  X(__read_chk, ssize_t(int, void*, size_t, size_t))                                               \
  X(__pread_chk, ssize_t(int, void*, size_t, off_t, size_t))                                       \
  X(__pread64_chk, ssize_t(int, void*, size_t, off_t, size_t))                                     \
  X(__recv_chk, ssize_t(int, void*, size_t, size_t, int))                                          \
  X(__recvfrom_chk, ssize_t(int, void*, size_t, size_t, int, sockaddr*, socklen_t*))               \
  X(open, int(const char*, int, ...))                                                              \
  X(open64, int(const char*, int, ...))                                                            \
  X(openat, int(int, const char*, int, ...))                                                       \
  X(openat64, int(int, const char*, int, ...))                                                     \
  X(creat, int(const char*, mode_t))                                                               \
  X(creat64, int(const char*, mode_t))                                                             \
  X(__open_2, int(const char*, int))                                                               \
  X(__open64_2, int(const char*, int))                                                             \
  X(__openat_2, int(int, const char*, int))                                                        \
  X(__openat64_2, int(int, const char*, int))                                                      \
  X(socket, int(int, int, int))                                                                    \
  X(socketpair, int(int, int, int, int*))                                                          \
  X(accept, int(int, sockaddr*, socklen_t*))                                                       \
  X(accept4, int(int, sockaddr*, socklen_t*, int))                                                 \
  X(pipe, int(int*))                                                                               \
  X(pipe2, int(int*, int))                                                                         \
  X(dup, int(int))                                                                                 \
  X(dup2, int(int, int))                                                                           \
  X(dup3, int(int, int, int))                                                                      \
  X(fcntl, int(int, int, ...))                                                                     \
  X(fcntl64, int(int, int, ...))                                                                   \
  X(close, int(int))                                                                               \
  X(__close, int(int))                                                                             \
  X(close_range, int(unsigned, unsigned, int))                                                     \
  X(eventfd, int(unsigned, int))                                                                   \
  X(timerfd_create, int(int, int))                                                                 \
  X(signalfd, int(int, const sigset_t*, int))                                                      \
  X(inotify_init, int())                                                                           \
  X(inotify_init1, int(int))                                                                       \
  X(epoll_create, int(int))                                                                        \
  X(epoll_create1, int(int))                                                                       \
  X(memfd_create, int(const char*, unsigned))                                                      \
  X(execve, int(const char*, char* const*, char* const*))                                          \
  X(execvpe, int(const char*, char* const*, char* const*))                                         \
  X(fexecve, int(int, char* const*, char* const*))                                                 \
  X(_exit, void(int))                                                                              \
  X(_Exit, void(int))                                                                              \
  X(quick_exit, void(int))

namespace valley::shim::real {

#define X(name, type) extern std::add_pointer_t<type> name;
VALLEY_REAL_FUNCS(X)
#undef X

/// Resolves every pointer; safe to call again and from several threads. Returns false while a
/// resolution is already running on this thread (dlsym re-entering a hook): the caller then
/// uses the raw system call.
bool resolve_all();

extern bool g_resolved;
inline bool ready() { return g_resolved || resolve_all(); }

} // namespace valley::shim::real
