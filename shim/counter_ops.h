// SPDX-License-Identifier: MIT
/// @file counter_ops.h
/// @brief Arithmetic on shared trace memory. `plain`: the caller holds the owner's window
/// (owner_lock.h) or is the process's only thread, so no other thread updates the field at the
/// same time; then an add is a single non-locked instruction, still atomic with respect to a
/// signal handler on this thread (a signal lands between instructions), and ~10x cheaper than
/// a lock-prefixed add.
#pragma once

#include <atomic>
#include <cstdint>

namespace valley::shim {

inline void add_as(bool plain, uint64_t& field, uint64_t v) {
#if defined(__x86_64__)
  if (plain) {
    asm volatile("addq %1, %0" : "+m"(field) : "er"(v));
    return;
  }
#endif
  std::atomic_ref<uint64_t>(field).fetch_add(v, std::memory_order_relaxed);
}

/// Returns the old value.
inline uint64_t fetch_inc(bool plain, uint64_t& field) {
#if defined(__x86_64__)
  if (plain) {
    uint64_t v = 1;
    asm volatile("xaddq %0, %1" : "+r"(v), "+m"(field));
    return v;
  }
#endif
  return std::atomic_ref<uint64_t>(field).fetch_add(1, std::memory_order_relaxed);
}

} // namespace valley::shim
