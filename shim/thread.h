// SPDX-License-Identifier: MIT
/// @file thread.h
/// @brief What valley keeps per thread: its shard, its caches, and whether it is inside valley.
///
/// A call that arrives while its thread is already inside valley is nested: a signal handler
/// that interrupted valley. It may use only what cannot be torn by that (single-instruction
/// adds, CAS, the shard's xadd), so it captures no stack, touches no cache, takes no lock.
///
/// valley does not hook longjmp. A handler that jumps out of valley leaves `busy` set, and the
/// next call of the thread decides whether the frame that set it is still there: a live frame
/// below the running one is impossible on the same stack, and a handler's frames lie at least a
/// signal frame (over 1 KiB on x86-64) below the frame it interrupted. So a call whose stack
/// pointer is above the recorded one, or less than that much below it, on the thread's own
/// stack (not on a sigaltstack), proves the frame gone: it recovers (tombstones, locks given
/// back) and goes on as an outermost call. Other calls in that state count as nested.
#pragma once

#include "shard.h"

#include <cstdint>

namespace valley::shim {

/// The latest call on an fd by this thread, for the gap histogram.
struct FdStamp {
  int32_t fd;
  uint32_t file; ///< FileRow id then: a new file on the fd number starts afresh
  uint64_t ticks;
};
inline constexpr uint32_t kFdStamps = 64;

/// What the thread's latest absorbed write looked up, for the next one from the same call site
/// into the same coalescer buffer (recorder.cpp, absorb_again). Valid while the buffer keeps
/// its generation: a call that changes the fd flushes it first, and a flush starts a new one.
struct Lane {
  uint64_t ra;     ///< 0: empty
  uint64_t gen;    ///< the coalescer buffer's generation
  uint64_t fd_id;  ///< fd_identity(fd) then: the fd table has not learned anything new since
  uint64_t py_key; ///< the Python call key (python/call_site.h) of the site, 0: a native site
  int32_t fd;
  uint8_t op;
  uint8_t kind; ///< FdKind
  uint32_t file;
  uint32_t site;
  CounterRow* row; ///< in the thread's shard
};

struct Thread {
  uint32_t tid;        ///< 0 until the thread's first call into valley
  uint32_t busy;       ///< 1 while an outermost valley frame of this thread runs (or was left)
  uintptr_t outer_sp;  ///< stack pointer of that frame
  ShardRef shard;
  uint32_t countdown;  ///< calls until the next stack sample
  uint64_t last_ra;    ///< one-entry caches for a loop at one site
  uint32_t last_site;
  uint64_t last_key;
  CounterRow* last_row;
  bool last_shared;    ///< last_row is in the shared table
  uint64_t run_gen;    ///< coalescer buffer of the shard's held run record
  uintptr_t py_tstate; ///< the PyThreadState checked to be this thread's (0: none yet)
  uint64_t py_key;     ///< one-entry cache of the last Python call site (key, site)
  uint32_t py_site;
  Lane lane;
  FdStamp stamps[kFdStamps];
};

// initial-exec TLS: no __tls_get_addr, no allocation on first touch.
extern constinit thread_local Thread t_thread __attribute__((tls_model("initial-exec")));

/// The current stack pointer.
inline uintptr_t stack_pointer() {
#if defined(__x86_64__)
  uintptr_t sp;
  asm volatile("mov %%rsp, %0" : "=r"(sp));
  return sp;
#else
  return reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
#endif
}

/// Marks this thread inside valley; true for a nested call (see above), which must not call
/// leave_valley.
bool enter_valley(Thread& t);

inline void leave_valley(Thread& t) {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t.busy = 0;
}

/// A frame of this thread was left by a jump: what it held is given back. Called by
/// enter_valley with the thread inside valley again, as its outermost frame.
void recover_thread(Thread& t);

} // namespace valley::shim
