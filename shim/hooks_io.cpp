// SPDX-License-Identifier: MIT
/// @file hooks_io.cpp
/// @brief write/read families (hooks.def's io lines): call the real function, hand one record
/// to the recorder. One macro per shape; the op's flags (ops.def) decide whether the
/// coalescer is offered the call, which flush point comes first and which syscall stands in
/// for a real function that is not resolved.
#include "hooks.h"
#include "sys.h"

using namespace valley;
using namespace valley::shim;

#define VALLEY_HOOK_buf(name, op, attr)                                                            \
  attr ssize_t name(int fd, Buf<Op::op> buf, size_t n) {                                          \
    const uint64_t t0 = clock::ticks();                                                            \
    ssize_t r;                                                                                     \
    if constexpr (op_is_coalescible(Op::op)) {                                                     \
      const iovec one{const_cast<void*>(static_cast<const void*>(buf)), n};                        \
      if (coalesced(Op::op, fd, &one, 1, VALLEY_RA, t0, &r)) return r;                             \
    }                                                                                              \
    flush_point<Op::op>(fd);                                                                       \
    auto f = VALLEY_REAL(name);                                                                    \
    r = f ? f(fd, buf, n) : syscall(op_is_output(Op::op) ? SYS_write : SYS_read, fd, buf, n);     \
    return io_done(Op::op, fd, n, -1, r, t0, VALLEY_RA);                                           \
  }

#define VALLEY_HOOK_pbuf(name, op, attr)                                                           \
  attr ssize_t name(int fd, Buf<Op::op> buf, size_t n, off_t off) {                               \
    const uint64_t t0 = clock::ticks();                                                            \
    flush_point<Op::op>(fd);                                                                       \
    auto f = VALLEY_REAL(name);                                                                    \
    ssize_t r = f ? f(fd, buf, n, off)                                                             \
                  : syscall(op_is_output(Op::op) ? SYS_pwrite64 : SYS_pread64, fd, buf, n, off);   \
    return io_done(Op::op, fd, n, off, r, t0, VALLEY_RA);                                          \
  }

// writev: at most IOV_MAX (1024) buffers reach the coalescer; the kernel refuses more.
#define VALLEY_HOOK_vec(name, op, attr)                                                            \
  attr ssize_t name(int fd, const iovec* iov, int cnt) {                                           \
    const uint64_t t0 = clock::ticks();                                                            \
    ssize_t r;                                                                                     \
    if constexpr (op_is_coalescible(Op::op))                                                       \
      if (cnt >= 0 && cnt <= 1024 && coalesced(Op::op, fd, iov, cnt, VALLEY_RA, t0, &r)) return r; \
    flush_point<Op::op>(fd);                                                                       \
    auto f = VALLEY_REAL(name);                                                                    \
    r = f ? f(fd, iov, cnt)                                                                        \
          : syscall(op_is_output(Op::op) ? SYS_writev : SYS_readv, fd, iov, cnt);                  \
    return io_done(Op::op, fd, iov_bytes_after(iov, cnt, r), -1, r, t0, VALLEY_RA);                \
  }

// The positional vector syscalls take the offset as (low, high) longs.
#define VALLEY_HOOK_pvec(name, op, attr)                                                           \
  attr ssize_t name(int fd, const iovec* iov, int cnt, off_t off) {                                \
    const uint64_t t0 = clock::ticks();                                                            \
    flush_point<Op::op>(fd);                                                                       \
    auto f = VALLEY_REAL(name);                                                                    \
    ssize_t r = f ? f(fd, iov, cnt, off)                                                           \
                  : syscall(op_is_output(Op::op) ? SYS_pwritev : SYS_preadv, fd, iov, cnt,         \
                            off_lo(off), off_hi(off));                                             \
    return io_done(Op::op, fd, iov_bytes_after(iov, cnt, r), off, r, t0, VALLEY_RA);               \
  }

#define VALLEY_HOOK_pvec2(name, op, attr)                                                          \
  attr ssize_t name(int fd, const iovec* iov, int cnt, off_t off, int flags) {                     \
    const uint64_t t0 = clock::ticks();                                                            \
    flush_point<Op::op>(fd);                                                                       \
    auto f = VALLEY_REAL(name);                                                                    \
    ssize_t r = f ? f(fd, iov, cnt, off, flags)                                                    \
                  : syscall(op_is_output(Op::op) ? SYS_pwritev2 : SYS_preadv2, fd, iov, cnt,       \
                            off_lo(off), off_hi(off), flags);                                      \
    return io_done(Op::op, fd, iov_bytes_after(iov, cnt, r), off, r, t0, VALLEY_RA);               \
  }

// The real _chk function keeps its overflow check; the fallback syscall has none to make.
#define VALLEY_HOOK_chk(name, op, attr)                                                            \
  attr ssize_t name(int fd, void* buf, size_t n, size_t buflen) {                                 \
    static_assert(!op_is_output(Op::op));                                                          \
    const uint64_t t0 = clock::ticks();                                                            \
    flush_point<Op::op>(fd);                                                                       \
    auto f = VALLEY_REAL(name);                                                                    \
    ssize_t r = f ? f(fd, buf, n, buflen) : syscall(SYS_read, fd, buf, n);                         \
    return io_done(Op::op, fd, n, -1, r, t0, VALLEY_RA);                                           \
  }

#define VALLEY_HOOK_pchk(name, op, attr)                                                           \
  attr ssize_t name(int fd, void* buf, size_t n, off_t off, size_t buflen) {                      \
    static_assert(!op_is_output(Op::op));                                                          \
    const uint64_t t0 = clock::ticks();                                                            \
    flush_point<Op::op>(fd);                                                                       \
    auto f = VALLEY_REAL(name);                                                                    \
    ssize_t r = f ? f(fd, buf, n, off, buflen) : syscall(SYS_pread64, fd, buf, n, off);            \
    return io_done(Op::op, fd, n, off, r, t0, VALLEY_RA);                                          \
  }

#define VALLEY_THIS_FILE_io(...) __VA_ARGS__
#define VALLEY_THIS_FILE_socket(...)
#define VALLEY_THIS_FILE_fd(...)
#define H(file, name, op, shape, heat)                                                             \
  VALLEY_THIS_FILE_##file(VALLEY_HOOK_##shape(name, op, VALLEY_EXPORT_##heat))
#define T(file, name, twin) VALLEY_THIS_FILE_##file(VALLEY_TWIN(name, twin))
#include "hooks.def"
#undef H
#undef T

namespace valley::shim {

VALLEY_COLD uint64_t iov_bytes_checked(const iovec* iov, int n) {
  if (n > 1024) return 0; // more than IOV_MAX: refused before the kernel reads any of them
  uint64_t total = 0;
  iovec block[32];
  for (int i = 0; iov && i < n; i += 32) {
    const int k = n - i < 32 ? n - i : 32;
    if (!sys::copy_from_program(block, iov + i, sizeof(iovec) * static_cast<size_t>(k))) return 0;
    for (int j = 0; j < k; ++j)
      total += block[j].iov_len;
  }
  return total;
}

} // namespace valley::shim
