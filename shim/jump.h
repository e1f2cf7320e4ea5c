// SPDX-License-Identifier: MIT
/// @file jump.h
/// @brief Frames a longjmp leaves behind. A program may siglongjmp out of a signal handler
/// that interrupted it inside valley (write is async-signal-safe, so POSIX allows this). valley's
/// interrupted frames then never return, and what they had entered (the recorder's "inside
/// valley" count, the owner's window, the coalescer's hold) would stay entered for good:
/// every later call would look like a signal handler's, and every other thread's first call
/// would wait a second for the window. Each part remembers the stack pointer of its
/// outermost entry, and the longjmp hooks (hooks_jump.cpp) have it forget what the jump
/// leaves behind.
#pragma once

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

/// Whether a jump from the frame at `here` to the one at `target` leaves the frame at
/// `frame` behind: it lies between them. The stack grows down, so that is here < frame <
/// target. A handler on an alternate signal stack jumping back to the thread's stack is
/// covered when the alternate stack lies below it (the main thread's stack is the highest
/// mapping); otherwise nothing is forgotten, which is the state before this check existed.
inline bool left_behind(uintptr_t frame, uintptr_t here, uintptr_t target) {
  return here < frame && frame < target;
}

} // namespace valley::shim
