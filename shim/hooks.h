// SPDX-License-Identifier: MIT
/// @file hooks.h
/// @brief What every hook file shares: the export attribute, the caller's return address, and
/// (from real.h) VALLEY_REAL for the real function.
#pragma once

#include "clock.h"
#include "coalesce/coalesce.h"
#include "hook_shapes.h"
#include "hot.h"
#include "real.h"
#include "recorder.h"

#include <cerrno>
#include <sys/syscall.h>
#include <unistd.h>

#define VALLEY_EXPORT extern "C" __attribute__((visibility("default")))
/// A hook for a call programs make in loops: its code joins the hot path (hot.h).
#define VALLEY_EXPORT_HOT VALLEY_EXPORT VALLEY_HOT
/// hooks.def's heat column.
#define VALLEY_EXPORT_hot VALLEY_EXPORT_HOT
#define VALLEY_EXPORT_warm VALLEY_EXPORT
/// hooks.def's T lines: another exported name of twin's hook, the same code (so the same
/// recorded op and the same real function).
#define VALLEY_TWIN(name, twin) \
  extern "C" __attribute__((visibility("default"), alias(#twin), copy(twin))) decltype(twin) name;
/// The return address into the program: the cheap call-site key.
#define VALLEY_RA reinterpret_cast<uint64_t>(__builtin_return_address(0))

namespace valley::shim {

inline uint64_t iov_bytes(const iovec* iov, int n) {
  uint64_t total = 0;
  for (int i = 0; iov && i < n; ++i) total += iov[i].iov_len;
  return total;
}

/// iov_bytes for an array the kernel may never have read (the call failed: I-20): copied
/// through the kernel a block at a time; 0 when it is not readable.
uint64_t iov_bytes_checked(const iovec* iov, int n);

/// The bytes a vector call asked for, read after the call: directly when it succeeded (the
/// kernel read the array), checked when it failed.
inline uint64_t iov_bytes_after(const iovec* iov, int n, ssize_t r) {
  return r >= 0 ? iov_bytes(iov, n) : iov_bytes_checked(iov, n);
}

/// A flush error on fd that the program has not been told about yet replaces `r`.
inline int sticky_or(int fd, int r) {
  if (int e = take_sticky_error(fd)) {
    errno = e;
    return -1;
  }
  return r;
}

/// Offers a write to the coalescer through the recorder (coalescing on); true when it was
/// taken or refused, with the program's result in *r.
inline bool coalesced(Op op, int fd, const iovec* iov, int cnt, uint64_t ra, uint64_t t0, ssize_t* r) {
  return g_coalesce.on && offer_output(op, fd, iov, cnt, ra, t0, r);
}

/// The flush point of a data op that the coalescer did not absorb (ops.def): a read flushes
/// what it could see, a positional write everything; a socket write waits behind its socket's
/// buffered bytes (hooks_socket.cpp).
template <Op op> inline void flush_point(int fd) {
  static_assert(!op_is_output(op) || op_is_positional(op) || op_is_coalescible(op) ||
                    op_is_socket(op),
                "ops.def: a stream write neither coalescible nor a socket call has no flush point");
  if constexpr (!op_is_output(op)) flush_before_read(fd);
  else if constexpr (op_is_positional(op)) flush_before();
}

// For the positional vector syscalls the kernel takes the offset as (low, high) longs.
inline long off_lo(off_t off) { return static_cast<long>(off); }
inline long off_hi(off_t off) { return static_cast<long>(static_cast<uint64_t>(off) >> 32); }

} // namespace valley::shim
