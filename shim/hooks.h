// SPDX-License-Identifier: MIT
/// @file hooks.h
/// @brief What every hook file shares: the export attribute, the caller's return address and
/// the real function (or nullptr before it is resolved, when the hook makes the raw syscall).
#pragma once

#include "clock.h"
#include "real.h"
#include "recorder.h"

#include <sys/syscall.h>
#include <unistd.h>

#define VALLEY_EXPORT extern "C" __attribute__((visibility("default")))
/// The return address into the program: the cheap call-site key.
#define VALLEY_RA reinterpret_cast<uint64_t>(__builtin_return_address(0))
#define VALLEY_REAL(name) (::valley::shim::real::ready() ? ::valley::shim::real::name : nullptr)

namespace valley::shim {

inline uint64_t iov_bytes(const iovec* iov, int n) {
  uint64_t total = 0;
  for (int i = 0; iov && i < n; ++i) total += iov[i].iov_len;
  return total;
}

// For the positional vector syscalls the kernel takes the offset as (low, high) longs.
inline long off_lo(off_t off) { return static_cast<long>(off); }
inline long off_hi(off_t off) { return static_cast<long>(static_cast<uint64_t>(off) >> 32); }

} // namespace valley::shim
