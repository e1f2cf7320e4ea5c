// SPDX-License-Identifier: MIT
/// @file hooks_sync.cpp
/// @brief Recorded calls that move no data through the program's buffers (ops.def direction
/// `none`): in-kernel copies, syncs, and unlink. Each is a flush point of the coalescer first
/// (a copy or a sync must find the buffered bytes already in the fd), then the real call, then
/// one record: fd the fd written to or synced, size the count asked for or the range's length.
#include "hooks.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>

using namespace valley;
using namespace valley::shim;

namespace {
// A copy's result counts bytes moved; a sync's, open's, unlink's does not.
ssize_t copied(Op op, int out, size_t n, ssize_t r, uint64_t t0, uint64_t ra) {
  return io_done(op, out, n, r > 0 ? static_cast<uint64_t>(r) : 0, -1, r, t0, ra);
}
int synced(Op op, int fd, uint64_t len, int64_t start, int r, uint64_t t0, uint64_t ra) {
  return static_cast<int>(io_done(op, fd, len, 0, start, r, t0, ra));
}
} // namespace

// In-kernel copies write into `out` behind the buffered bytes of that pipe or socket.
#define VALLEY_COPY(op, out, n, name, args, fallback)                  \
  flush_before_object(out);                                            \
  const uint64_t t0 = clock::ticks();                                  \
  auto f = VALLEY_REAL(name);                                          \
  const ssize_t r = f ? f args : static_cast<ssize_t>(fallback);       \
  return copied(Op::op, out, n, r, t0, VALLEY_RA)

VALLEY_EXPORT ssize_t sendfile(int out, int in, off_t* off, size_t n) noexcept {
  VALLEY_COPY(sendfile, out, n, sendfile, (out, in, off, n), syscall(SYS_sendfile, out, in, off, n));
}
VALLEY_EXPORT ssize_t sendfile64(int out, int in, off_t* off, size_t n) noexcept {
  VALLEY_COPY(sendfile, out, n, sendfile64, (out, in, off, n), syscall(SYS_sendfile, out, in, off, n));
}
VALLEY_EXPORT ssize_t splice(int in, loff_t* off_in, int out, loff_t* off_out, size_t n, unsigned flags) {
  VALLEY_COPY(splice, out, n, splice, (in, off_in, out, off_out, n, flags),
              syscall(SYS_splice, in, off_in, out, off_out, n, flags));
}
VALLEY_EXPORT ssize_t tee(int in, int out, size_t n, unsigned flags) {
  VALLEY_COPY(tee, out, n, tee, (in, out, n, flags), syscall(SYS_tee, in, out, n, flags));
}
VALLEY_EXPORT ssize_t copy_file_range(int in, loff_t* off_in, int out, loff_t* off_out, size_t n,
                                      unsigned flags) {
  VALLEY_COPY(copy_file_range, out, n, copy_file_range, (in, off_in, out, off_out, n, flags),
              syscall(SYS_copy_file_range, in, off_in, out, off_out, n, flags));
}

// A flush error the program has not been told about is fsync's to report.
VALLEY_EXPORT int fsync(int fd) {
  flush_before_fd(fd);
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(fsync);
  const int r = sticky_or(fd, f ? f(fd) : static_cast<int>(syscall(SYS_fsync, fd)));
  return synced(Op::fsync, fd, 0, -1, r, t0, VALLEY_RA);
}
VALLEY_EXPORT int fdatasync(int fd) {
  flush_before_fd(fd);
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(fdatasync);
  const int r = sticky_or(fd, f ? f(fd) : static_cast<int>(syscall(SYS_fdatasync, fd)));
  return synced(Op::fdatasync, fd, 0, -1, r, t0, VALLEY_RA);
}
VALLEY_EXPORT int sync_file_range(int fd, off_t off, off_t n, unsigned flags) {
  flush_before_object(fd);
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(sync_file_range);
  const int r = f ? f(fd, off, n, flags) : static_cast<int>(syscall(SYS_sync_file_range, fd, off, n, flags));
  return synced(Op::sync_file_range, fd, n > 0 ? static_cast<uint64_t>(n) : 0, off, r, t0, VALLEY_RA);
}
// A shared mapping of a file sees the file: buffered bytes go out first, as for mmap.
VALLEY_EXPORT int msync(void* addr, size_t len, int flags) {
  flush_before();
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(msync);
  const int r = f ? f(addr, len, flags) : static_cast<int>(syscall(SYS_msync, addr, len, flags));
  return synced(Op::msync, -1, len, -1, r, t0, VALLEY_RA);
}

VALLEY_EXPORT int unlink(const char* path) noexcept {
  flush_before();
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(unlink);
  const int r = f ? f(path) : static_cast<int>(syscall(SYS_unlinkat, AT_FDCWD, path, 0));
  return path_done(Op::unlink, path, r, t0, VALLEY_RA);
}
VALLEY_EXPORT int unlinkat(int dirfd, const char* path, int flags) noexcept {
  flush_before();
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(unlinkat);
  const int r = f ? f(dirfd, path, flags) : static_cast<int>(syscall(SYS_unlinkat, dirfd, path, flags));
  return path_done(Op::unlink, path, r, t0, VALLEY_RA);
}

// hooks.def's C lines of this file give the types of the hooks above.
#define VALLEY_C_LINE_sync(...) __VA_ARGS__
#include "hook_checks.h"
