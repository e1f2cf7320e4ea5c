// SPDX-License-Identifier: MIT
/// @file owner_lock.h
/// @brief Exclusion that costs the program's main thread no locked instruction.
///
/// Most traced programs make their I/O calls from one thread, and valley's own flusher thread
/// is the only other party that touches the trace and the coalescing buffer. Locked adds, a
/// CAS on the ring head and a mutex per call cost that one thread more than everything else
/// valley does. So the main thread (the "owner": tid == pid) holds a window with plain stores,
/// and the rare other party pays: Dekker's protocol with the heavy fence on its side.
///
///   owner:  busy += 1 (plain); compiler fence; revoked == 0 ? inside : busy -= 1, slow path
///   other:  revoked |= held; membarrier(PRIVATE_EXPEDITED); wait until busy == 0
///
/// membarrier makes every running thread of the process pass a full barrier, so either the
/// owner's busy store is visible to the other side, or the owner sees `revoked`. Inside its
/// window the owner may use non-locked instructions on anything the other side only touches
/// after excluding it. A second program thread revokes for good: from then on every thread
/// takes the locked paths. Where membarrier is missing, the window is never granted.
#pragma once

#include "jump.h"

#include <atomic>
#include <cstdint>

namespace valley::shim::owner {

/// kForGood: no new window, ever; kClosed: and none is open any more (set after the wait).
enum : uint32_t { kHeld = 1, kForGood = 2, kUnregistered = 4, kClosed = 8 };

/// The owner's nesting count, written on every call it makes. A cache line of its own: the
/// variables beside it in the hot section are read by every thread on every call.
struct alignas(64) BusyCount {
  std::atomic<uint32_t> n;
  uintptr_t outer_sp; ///< stack pointer of the outermost open window (jump.h)
};
extern BusyCount g_busy;
extern std::atomic<uint32_t> g_revoked; ///< any bit set: the window is closed

/// Whether this thread is the owner. A thread that is neither the owner nor a helper of
/// valley's revokes the window for good the first time it asks.
bool is_owner();

/// Closes the window enter() opened.
inline void leave() {
  leave_marked(g_busy.outer_sp, [] {
    const uint32_t n = g_busy.n.load(std::memory_order_relaxed) - 1;
    g_busy.n.store(n, std::memory_order_release);
    return n;
  });
}

/// Opens the owner's window; false on any other thread or while revoked.
inline bool enter() {
  if (!is_owner()) return false;
  const uint32_t outer = g_busy.n.load(std::memory_order_relaxed);
  enter_marked(g_busy.outer_sp, outer == 0 ? stack_pointer() : 0,
               [outer] { g_busy.n.store(outer + 1, std::memory_order_relaxed); });
  if (g_revoked.load(std::memory_order_acquire) == 0) return true;
  leave();
  return false;
}

/// The other side: keeps the owner out until readmit(). Callers serialize among themselves
/// (the coalescer's mutex). False when the owner stayed inside a second (a long signal
/// handler, a debugger stop, a frame left by siglongjmp): nothing was excluded, and the
/// window never opens again. Also false where membarrier fails.
bool exclude();
void readmit();

/// A longjmp from `here` to `target` on the owner's thread: closes the windows it leaves
/// behind (jump.h).
void jumped(uintptr_t here, uintptr_t target);

/// valley's flusher thread: never the owner, never a reason to revoke.
void become_helper();

/// At init: registers for membarrier, or keeps the window closed.
void init();
/// In a fork child: the forking thread is the only thread, and its tid is the new pid.
void after_fork_child();

} // namespace valley::shim::owner
