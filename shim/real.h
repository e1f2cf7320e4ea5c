// SPDX-License-Identifier: MIT
/// @file real.h
/// @brief The libc functions valley wraps, resolved with dlsym(RTLD_NEXT) once, eagerly from
/// the constructor and lazily from the first hook that runs before it.
#pragma once

#include <csignal>
#include <cstdio>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <type_traits>

#include "hook_shapes.h"

// X(name, type): every wrapped function and its signature, besides the data calls of hooks.def.
/// The real function, or nullptr while it is not resolved (the caller then makes the syscall).
#define VALLEY_REAL(name) (::valley::shim::real::ready() ? ::valley::shim::real::name : nullptr)

#define VALLEY_REAL_FUNCS(X)                                                                       \
  X(shutdown, int(int, int))                                                                       \
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
  X(ioctl, int(int, unsigned long, ...))                                                           \
  X(close, int(int))                                                                               \
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
  X(quick_exit, void(int))                                                                         \
  X(poll, int(pollfd*, nfds_t, int))                                                               \
  X(ppoll, int(pollfd*, nfds_t, const timespec*, const sigset_t*))                                 \
  X(__poll_chk, int(pollfd*, nfds_t, int, size_t))                                                 \
  X(__ppoll_chk, int(pollfd*, nfds_t, const timespec*, const sigset_t*, size_t))                   \
  X(select, int(int, fd_set*, fd_set*, fd_set*, timeval*))                                         \
  X(pselect, int(int, fd_set*, fd_set*, fd_set*, const timespec*, const sigset_t*))                \
  X(epoll_wait, int(int, epoll_event*, int, int))                                                  \
  X(epoll_pwait, int(int, epoll_event*, int, int, const sigset_t*))                                \
  X(wait, pid_t(int*))                                                                             \
  X(waitpid, pid_t(pid_t, int*, int))                                                              \
  X(waitid, int(idtype_t, id_t, siginfo_t*, int))                                                  \
  X(wait3, pid_t(int*, int, rusage*))                                                              \
  X(wait4, pid_t(pid_t, int*, int, rusage*))                                                       \
  X(lseek, off_t(int, off_t, int))                                                                 \
  X(lseek64, off_t(int, off_t, int))                                                               \
  X(ftruncate, int(int, off_t))                                                                    \
  X(ftruncate64, int(int, off_t))                                                                  \
  X(truncate, int(const char*, off_t))                                                             \
  X(fstat, int(int, struct stat*))                                                                 \
  X(fstat64, int(int, struct stat64*))                                                             \
  X(fstatat, int(int, const char*, struct stat*, int))                                             \
  X(fstatat64, int(int, const char*, struct stat64*, int))                                         \
  X(stat, int(const char*, struct stat*))                                                          \
  X(stat64, int(const char*, struct stat64*))                                                      \
  X(lstat, int(const char*, struct stat*))                                                         \
  X(lstat64, int(const char*, struct stat64*))                                                     \
  X(statx, int(int, const char*, int, unsigned, struct statx*))                                    \
  X(__fxstat, int(int, int, struct stat*))                                                         \
  X(__fxstat64, int(int, int, struct stat64*))                                                     \
  X(__xstat, int(int, const char*, struct stat*))                                                  \
  X(__xstat64, int(int, const char*, struct stat64*))                                              \
  X(mmap, void*(void*, size_t, int, int, int, off_t))                                              \
  X(mmap64, void*(void*, size_t, int, int, int, off_t))                                            \
  X(sendfile, ssize_t(int, int, off_t*, size_t))                                                   \
  X(sendfile64, ssize_t(int, int, off_t*, size_t))                                                 \
  X(splice, ssize_t(int, loff_t*, int, loff_t*, size_t, unsigned))                                 \
  X(tee, ssize_t(int, int, size_t, unsigned))                                                      \
  X(copy_file_range, ssize_t(int, loff_t*, int, loff_t*, size_t, unsigned))                        \
  X(fsync, int(int))                                                                               \
  X(fdatasync, int(int))                                                                           \
  X(sync, void())                                                                                  \
  X(syncfs, int(int))                                                                              \
  X(sync_file_range, int(int, off_t, off_t, unsigned))                                             \
  X(msync, int(void*, size_t, int))                                                                \
  X(unlink, int(const char*))                                                                      \
  X(unlinkat, int(int, const char*, int))                                                          \
  X(setsockopt, int(int, int, int, const void*, socklen_t))                                        \
  X(flock, int(int, int))                                                                          \
  X(lockf, int(int, int, off_t))                                                                   \
  X(lockf64, int(int, int, off_t))                                                                 \
  X(posix_spawn, int(pid_t*, const char*, const posix_spawn_file_actions_t*,                      \
                     const posix_spawnattr_t*, char* const*, char* const*))                        \
  X(posix_spawnp, int(pid_t*, const char*, const posix_spawn_file_actions_t*,                     \
                      const posix_spawnattr_t*, char* const*, char* const*))                       \
  X(system, int(const char*))                                                                      \
  X(_Fork, pid_t())                                                                                \
  X(popen, FILE*(const char*, const char*))                                                        \
  X(abort, void())                                                                                 \
  X(fdopen, FILE*(int, const char*))                                                               \
  X(fclose, int(FILE*))                                                                            \
  X(closefrom, void(int))                                                                          \
  X(kill, int(pid_t, int))                                                                         \
  X(killpg, int(pid_t, int))                                                                       \
  X(raise, int(int))                                                                               \
  X(tgkill, int(pid_t, pid_t, int))                                                                \
  X(pthread_kill, int(pthread_t, int))                                                             \
  X(pthread_sigqueue, int(pthread_t, int, const union sigval))                                     \
  X(sigqueue, int(pid_t, int, const union sigval))                                                 \
  X(sem_post, int(sem_t*))                                                                         \
  X(sigaction, int(int, const struct sigaction*, struct sigaction*))                               \
  X(signal, sighandler_t(int, sighandler_t))

namespace valley::shim::real {

#define X(name, type) extern std::add_pointer_t<type> name;
VALLEY_REAL_FUNCS(X)
#undef X
#define H(file, name, op, shape, heat) extern std::add_pointer_t<VALLEY_SIG_##shape(op)> name;
#define T(file, name, twin)
#include "hooks.def"
#undef H
#undef T

/// Resolves every pointer; safe to call again and from several threads. Returns false while a
/// resolution is already running on this thread (dlsym re-entering a hook): the caller then
/// uses the raw system call.
bool resolve_all();

extern bool g_resolved;
inline bool ready() { return g_resolved || resolve_all(); }

} // namespace valley::shim::real
