// SPDX-License-Identifier: MIT
/// @file counter_ops.h
/// @brief Counter arithmetic on shared memory. While one thread of the program records calls,
/// an add is a single non-locked instruction: atomic with respect to a signal handler on that
/// thread (a signal lands between instructions), and ~10x cheaper than a lock-prefixed add. Once
/// a second program thread records a call, every add is locked. valley's own flusher thread does
/// not count: it only adds to the flush row, under the coalescer's lock, as program threads do.
#pragma once

#include <atomic>
#include <cstdint>
#include <sys/single_threaded.h>

namespace valley::shim {

/// Set when a second program thread records its first call; never cleared.
extern std::atomic<bool> g_program_threads;

/// Whether one thread of the program records calls: decide once per call, then add_as().
inline bool single_writer() {
  return __libc_single_threaded || !g_program_threads.load(std::memory_order_relaxed);
}

inline void add_as(bool single, uint64_t& field, uint64_t v) {
#if defined(__x86_64__)
  if (single) {
    asm volatile("addq %1, %0" : "+m"(field) : "er"(v));
    return;
  }
#endif
  std::atomic_ref<uint64_t>(field).fetch_add(v, std::memory_order_relaxed);
}

inline void add(uint64_t& field, uint64_t v) { add_as(single_writer(), field, v); }

/// Returns the old value. Non-locked only while the process has one thread at all (the ring is
/// shared with the flusher thread).
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
