// SPDX-License-Identifier: MIT
/// @file jump.h
/// @brief Frames a longjmp leaves behind. A program may siglongjmp out of a signal handler
/// that interrupted it inside valley (write is async-signal-safe, so POSIX allows this). valley's
/// interrupted frames then never return, and what they had entered (the recorder's "inside
/// valley" count, the owner's window) would stay entered for good:
/// every later call would look like a signal handler's, and every other thread's first call
/// would wait a second for the window. Each part remembers the stack pointer of its
/// outermost entry, and the longjmp hooks (hooks_jump.cpp) have it forget what the jump
/// leaves behind.
#pragma once

#include <atomic>
#include <cstdint>

namespace valley::shim {

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

/// Entering: `raise` puts an entry count up. `sp` (0 for a nested entry) goes into `outer_sp`
/// before the count and again after it, so that while the count is up the field holds the
/// outermost entry's stack pointer, or for a few instructions 0 (a longjmp then forgets
/// nothing). A handler that runs just before the count is an outermost entry itself and
/// clears the field when it leaves.
template <class Raise> inline void enter_marked(uintptr_t& outer_sp, uintptr_t sp, Raise raise) {
  if (sp) outer_sp = sp;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  raise();
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (sp) outer_sp = sp;
}

/// Leaving: `lower` puts the count down and returns it; at 0 the field is cleared (it is read
/// only while the count is up).
template <class Lower> inline void leave_marked(uintptr_t& outer_sp, Lower lower) {
  const uint32_t left = lower();
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (left == 0) outer_sp = 0;
}

/// The main thread's stack: [lo, hi) below __libc_stack_end, set by jump_init(); empty
/// before. The kernel keeps at least 128 MiB below the stack for it: mmap places nothing
/// there (a coroutine's stack, a thread's) unless a program asks for the address.
struct StackRange {
  uintptr_t lo, hi;
};
extern StackRange g_main_stack;
void jump_init();

/// Whether a jump from the frame at `here` to the one at `target` leaves the frame at
/// `frame` behind. Only on the main thread's own stack, where frames and targets are ordered
/// by address (the stack grows down: here < frame < target; `here` may be on an alternate
/// signal stack). A frame or target anywhere else (a coroutine's stack, another thread's) is
/// never taken as left behind: a jump between stacks may only suspend it.
inline bool left_behind(uintptr_t frame, uintptr_t here, uintptr_t target) {
  const StackRange s = g_main_stack;
  return frame >= s.lo && target < s.hi && here < frame && frame < target;
}

} // namespace valley::shim
