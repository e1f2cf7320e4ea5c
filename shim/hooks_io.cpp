// SPDX-License-Identifier: MIT
/// @file hooks_io.cpp
/// @brief write/read families: call the real function, hand one record to the recorder.
#include "hooks.h"

using namespace valley;
using namespace valley::shim;

VALLEY_EXPORT_HOT ssize_t write(int fd, const void* buf, size_t n) {
  const uint64_t t0 = clock::ticks();
  ssize_t r;
  const iovec one{const_cast<void*>(buf), n};
  if (coalesced(Op::write, fd, &one, 1, VALLEY_RA, t0, &r))
    return r;
  auto f = VALLEY_REAL(write);
  r = f ? f(fd, buf, n) : syscall(SYS_write, fd, buf, n);
  return io_done(Op::write, fd, n, -1, r, t0, VALLEY_RA);
}

VALLEY_EXPORT_HOT ssize_t __write(int fd, const void* buf, size_t n) {
  const uint64_t t0 = clock::ticks();
  ssize_t r;
  const iovec one{const_cast<void*>(buf), n};
  if (coalesced(Op::write, fd, &one, 1, VALLEY_RA, t0, &r))
    return r;
  auto f = VALLEY_REAL(__write);
  r = f ? f(fd, buf, n) : syscall(SYS_write, fd, buf, n);
  return io_done(Op::write, fd, n, -1, r, t0, VALLEY_RA);
}

VALLEY_EXPORT_HOT ssize_t writev(int fd, const iovec* iov, int cnt) {
  const uint64_t t0 = clock::ticks();
  const uint64_t n = iov_bytes(iov, cnt);
  ssize_t r;
  if (cnt >= 0 && cnt <= 1024 && coalesced(Op::writev, fd, iov, cnt, VALLEY_RA, t0, &r))
    return r;
  auto f = VALLEY_REAL(writev);
  r = f ? f(fd, iov, cnt) : syscall(SYS_writev, fd, iov, cnt);
  return io_done(Op::writev, fd, n, -1, r, t0, VALLEY_RA);
}

VALLEY_EXPORT ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  const uint64_t t0 = clock::ticks();
  flush_before();
  auto f = VALLEY_REAL(pwrite);
  ssize_t r = f ? f(fd, buf, n, off) : syscall(SYS_pwrite64, fd, buf, n, off);
  return io_done(Op::pwrite, fd, n, off, r, t0, VALLEY_RA);
}

VALLEY_EXPORT ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
  const uint64_t t0 = clock::ticks();
  flush_before();
  auto f = VALLEY_REAL(pwrite64);
  ssize_t r = f ? f(fd, buf, n, off) : syscall(SYS_pwrite64, fd, buf, n, off);
  return io_done(Op::pwrite64, fd, n, off, r, t0, VALLEY_RA);
}

VALLEY_EXPORT ssize_t pwritev(int fd, const iovec* iov, int cnt, off_t off) {
  const uint64_t t0 = clock::ticks();
  flush_before();
  const uint64_t n = iov_bytes(iov, cnt);
  auto f = VALLEY_REAL(pwritev);
  ssize_t r = f ? f(fd, iov, cnt, off) : syscall(SYS_pwritev, fd, iov, cnt, off_lo(off), off_hi(off));
  return io_done(Op::pwritev, fd, n, off, r, t0, VALLEY_RA);
}

VALLEY_EXPORT ssize_t pwritev64(int fd, const iovec* iov, int cnt, off_t off) {
  const uint64_t t0 = clock::ticks();
  flush_before();
  const uint64_t n = iov_bytes(iov, cnt);
  auto f = VALLEY_REAL(pwritev64);
  ssize_t r = f ? f(fd, iov, cnt, off) : syscall(SYS_pwritev, fd, iov, cnt, off_lo(off), off_hi(off));
  return io_done(Op::pwritev64, fd, n, off, r, t0, VALLEY_RA);
}

VALLEY_EXPORT ssize_t pwritev2(int fd, const iovec* iov, int cnt, off_t off, int flags) {
  const uint64_t t0 = clock::ticks();
  flush_before();
  const uint64_t n = iov_bytes(iov, cnt);
  auto f = VALLEY_REAL(pwritev2);
  ssize_t r = f ? f(fd, iov, cnt, off, flags)
                : syscall(SYS_pwritev2, fd, iov, cnt, off_lo(off), off_hi(off), flags);
  return io_done(Op::pwritev2, fd, n, off, r, t0, VALLEY_RA);
}

VALLEY_EXPORT ssize_t pwritev64v2(int fd, const iovec* iov, int cnt, off_t off, int flags) {
  const uint64_t t0 = clock::ticks();
  flush_before();
  const uint64_t n = iov_bytes(iov, cnt);
  auto f = VALLEY_REAL(pwritev64v2);
  ssize_t r = f ? f(fd, iov, cnt, off, flags)
                : syscall(SYS_pwritev2, fd, iov, cnt, off_lo(off), off_hi(off), flags);
  return io_done(Op::pwritev64v2, fd, n, off, r, t0, VALLEY_RA);
}

VALLEY_EXPORT_HOT ssize_t read(int fd, void* buf, size_t n) {
  const uint64_t t0 = clock::ticks();
  flush_before_read(fd);
  auto f = VALLEY_REAL(read);
  ssize_t r = f ? f(fd, buf, n) : syscall(SYS_read, fd, buf, n);
  return io_done(Op::read, fd, n, -1, r, t0, VALLEY_RA);
}

VALLEY_EXPORT_HOT ssize_t __read(int fd, void* buf, size_t n) {
  const uint64_t t0 = clock::ticks();
  flush_before_read(fd);
  auto f = VALLEY_REAL(__read);
  ssize_t r = f ? f(fd, buf, n) : syscall(SYS_read, fd, buf, n);
  return io_done(Op::read, fd, n, -1, r, t0, VALLEY_RA);
}

VALLEY_EXPORT_HOT ssize_t readv(int fd, const iovec* iov, int cnt) {
  const uint64_t t0 = clock::ticks();
  flush_before_read(fd);
  const uint64_t n = iov_bytes(iov, cnt);
  auto f = VALLEY_REAL(readv);
  ssize_t r = f ? f(fd, iov, cnt) : syscall(SYS_readv, fd, iov, cnt);
  return io_done(Op::readv, fd, n, -1, r, t0, VALLEY_RA);
}

VALLEY_EXPORT ssize_t pread(int fd, void* buf, size_t n, off_t off) {
  const uint64_t t0 = clock::ticks();
  flush_before_read(fd);
  auto f = VALLEY_REAL(pread);
  ssize_t r = f ? f(fd, buf, n, off) : syscall(SYS_pread64, fd, buf, n, off);
  return io_done(Op::pread, fd, n, off, r, t0, VALLEY_RA);
}

VALLEY_EXPORT ssize_t pread64(int fd, void* buf, size_t n, off_t off) {
  const uint64_t t0 = clock::ticks();
  flush_before_read(fd);
  auto f = VALLEY_REAL(pread64);
  ssize_t r = f ? f(fd, buf, n, off) : syscall(SYS_pread64, fd, buf, n, off);
  return io_done(Op::pread64, fd, n, off, r, t0, VALLEY_RA);
}

VALLEY_EXPORT ssize_t preadv(int fd, const iovec* iov, int cnt, off_t off) {
  const uint64_t t0 = clock::ticks();
  flush_before_read(fd);
  const uint64_t n = iov_bytes(iov, cnt);
  auto f = VALLEY_REAL(preadv);
  ssize_t r = f ? f(fd, iov, cnt, off) : syscall(SYS_preadv, fd, iov, cnt, off_lo(off), off_hi(off));
  return io_done(Op::preadv, fd, n, off, r, t0, VALLEY_RA);
}

VALLEY_EXPORT ssize_t preadv64(int fd, const iovec* iov, int cnt, off_t off) {
  const uint64_t t0 = clock::ticks();
  flush_before_read(fd);
  const uint64_t n = iov_bytes(iov, cnt);
  auto f = VALLEY_REAL(preadv64);
  ssize_t r = f ? f(fd, iov, cnt, off) : syscall(SYS_preadv, fd, iov, cnt, off_lo(off), off_hi(off));
  return io_done(Op::preadv64, fd, n, off, r, t0, VALLEY_RA);
}

VALLEY_EXPORT ssize_t preadv2(int fd, const iovec* iov, int cnt, off_t off, int flags) {
  const uint64_t t0 = clock::ticks();
  flush_before_read(fd);
  const uint64_t n = iov_bytes(iov, cnt);
  auto f = VALLEY_REAL(preadv2);
  ssize_t r = f ? f(fd, iov, cnt, off, flags)
                : syscall(SYS_preadv2, fd, iov, cnt, off_lo(off), off_hi(off), flags);
  return io_done(Op::preadv2, fd, n, off, r, t0, VALLEY_RA);
}

VALLEY_EXPORT ssize_t preadv64v2(int fd, const iovec* iov, int cnt, off_t off, int flags) {
  const uint64_t t0 = clock::ticks();
  flush_before_read(fd);
  const uint64_t n = iov_bytes(iov, cnt);
  auto f = VALLEY_REAL(preadv64v2);
  ssize_t r = f ? f(fd, iov, cnt, off, flags)
                : syscall(SYS_preadv2, fd, iov, cnt, off_lo(off), off_hi(off), flags);
  return io_done(Op::preadv64v2, fd, n, off, r, t0, VALLEY_RA);
}

// Fortified reads (-D_FORTIFY_SOURCE): the real _chk function keeps its overflow check; it
// reaches libc's internal read, which no interposer sees, so these need hooks of their own.
VALLEY_EXPORT_HOT ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
  const uint64_t t0 = clock::ticks();
  flush_before_read(fd);
  auto f = VALLEY_REAL(__read_chk);
  ssize_t r = f ? f(fd, buf, n, buflen) : syscall(SYS_read, fd, buf, n);
  return io_done(Op::read_chk, fd, n, -1, r, t0, VALLEY_RA);
}

VALLEY_EXPORT ssize_t __pread_chk(int fd, void* buf, size_t n, off_t off, size_t buflen) {
  const uint64_t t0 = clock::ticks();
  flush_before_read(fd);
  auto f = VALLEY_REAL(__pread_chk);
  ssize_t r = f ? f(fd, buf, n, off, buflen) : syscall(SYS_pread64, fd, buf, n, off);
  return io_done(Op::pread_chk, fd, n, off, r, t0, VALLEY_RA);
}

VALLEY_EXPORT ssize_t __pread64_chk(int fd, void* buf, size_t n, off_t off, size_t buflen) {
  const uint64_t t0 = clock::ticks();
  flush_before_read(fd);
  auto f = VALLEY_REAL(__pread64_chk);
  ssize_t r = f ? f(fd, buf, n, off, buflen) : syscall(SYS_pread64, fd, buf, n, off);
  return io_done(Op::pread64_chk, fd, n, off, r, t0, VALLEY_RA);
}
