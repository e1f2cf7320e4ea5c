// SPDX-License-Identifier: MIT
/// @file frames.h
/// @brief Reading a CPython thread's frames from outside the interpreter: plain copies through
/// py::read (never a fault), no Python C API (the GIL is usually released around I/O), no
/// allocation. Every pointer is checked (alignment, readable, the object's type) and anything
/// doubtful reads as unknown rather than as a wrong name or line.
#pragma once

#include "python/layout.h"

#include <cstddef>
#include <cstdint>

namespace valley::shim::py {

/// The interpreter found in the process: its layout and the addresses the reader compares with.
struct Runtime {
  const Layout* layout = nullptr;
  uintptr_t runtime = 0;    ///< &_PyRuntime
  uintptr_t code_type = 0;  ///< &PyCode_Type
  uintptr_t str_type = 0;   ///< &PyUnicode_Type
  uintptr_t bytes_type = 0; ///< &PyBytes_Type
};

/// What splits a call site: the code object running and the byte offset of its instruction
/// (checked), and a hash of the (code, instruction) pointers of the frames that called it, so
/// a helper called from two places, or the standard library's logging called from two lines,
/// makes two sites.
struct Key {
  uintptr_t code;
  uint32_t offset;
  uint64_t callers;
};

/// Frames of the stack that go into Key::callers (the innermost one included).
inline constexpr uint32_t kKeyFrames = 12;

/// This thread's PyThreadState (from the runtime's thread-specific key), 0 when the thread has
/// none or the interpreter is not initialized.
uintptr_t thread_state(const Runtime& rt);

/// True when `tstate` belongs to this runtime's main interpreter and to the calling thread.
bool thread_state_is_mine(const Runtime& rt, uintptr_t tstate, uint64_t pthread_self_id);

/// The innermost complete Python frame of `tstate`: false when there is none or any read or
/// check fails.
bool current_key(const Runtime& rt, uintptr_t tstate, Key* out);

struct FrameText {
  int32_t line;       ///< 0 = unknown
  int32_t first_line; ///< 0 = unknown
  char function[72];  ///< co_qualname, "?" when unreadable
  char file[160];     ///< co_filename ("..." + its end when too long), "?" when unreadable
};

/// Up to `max` frames of `tstate`'s Python stack, innermost first. Stops at the first frame
/// whose own pointers do not check out (so a corrupted chain is cut, never followed).
uint32_t read_stack(const Runtime& rt, uintptr_t tstate, FrameText* out, uint32_t max);

/// The line of the instruction at `byte_offset` from a 3.11 location table (co_linetable) read
/// through `rt`, starting at `first_line`; 0 when the table does not say or is malformed.
int32_t line_at(const Runtime& rt, uintptr_t linetable, int32_t first_line, uint32_t byte_offset);

} // namespace valley::shim::py
