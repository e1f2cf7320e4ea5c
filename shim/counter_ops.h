// SPDX-License-Identifier: MIT
/// @file counter_ops.h
/// @brief Counter arithmetic on shared memory. While the process has one thread, an add is a
/// single non-locked instruction: atomic with respect to a signal handler on that thread (a
/// signal lands between instructions), and ~10x cheaper than a lock-prefixed add. Once a second
/// thread exists (glibc clears __libc_single_threaded before creating it) every add is locked.
#pragma once

#include <atomic>
#include <cstdint>
#include <sys/single_threaded.h>

namespace valley::shim {

inline void add(uint64_t& field, uint64_t v) {
#if defined(__x86_64__)
  if (__libc_single_threaded) {
    asm volatile("addq %1, %0" : "+m"(field) : "er"(v));
    return;
  }
#endif
  std::atomic_ref<uint64_t>(field).fetch_add(v, std::memory_order_relaxed);
}

/// Returns the old value. Same single-instruction rule as add().
inline uint64_t fetch_inc(uint64_t& field) {
#if defined(__x86_64__)
  if (__libc_single_threaded) {
    uint64_t v = 1;
    asm volatile("xaddq %0, %1" : "+r"(v), "+m"(field));
    return v;
  }
#endif
  return std::atomic_ref<uint64_t>(field).fetch_add(1, std::memory_order_relaxed);
}

} // namespace valley::shim
