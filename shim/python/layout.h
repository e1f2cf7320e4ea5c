// SPDX-License-Identifier: MIT
/// @file layout.h
/// @brief Where a CPython version keeps what the shim reads: byte offsets into _PyRuntime, the
/// thread state, the interpreter frame, the code object and the str/bytes objects, one row per
/// supported minor version (x86_64). A version without a row is never read.
#pragma once

#include <cstdint>

namespace valley::shim::py {

struct Layout {
  uint32_t version; ///< (major << 8) | minor, e.g. 0x030B for 3.11

  // _PyRuntimeState
  uint32_t runtime_interp; ///< gilstate.autoInterpreterState
  uint32_t runtime_tss;    ///< gilstate.autoTSSkey (a Py_tss_t: int initialized, pthread_key_t)

  // PyThreadState
  uint32_t tstate_interp, tstate_cframe, tstate_thread_id, tstate_size;
  uint32_t cframe_current; ///< _PyCFrame.current_frame

  // _PyInterpreterFrame
  uint32_t frame_code, frame_previous, frame_prev_instr, frame_owner, frame_size;
  uint8_t owner_generator; ///< the owner value of a generator's frame

  // PyCodeObject
  uint32_t code_firstlineno, code_filename, code_qualname, code_linetable;
  uint32_t code_firsttraceable, code_code; ///< code_code: co_code_adaptive, the bytecode

  // PyObject, PyBytesObject, PyASCIIObject / PyCompactUnicodeObject
  uint32_t ob_type, ob_size, bytes_data;
  uint32_t str_length, str_state, str_ascii_data, str_compact_data;
};

/// CPython 3.11 on x86_64, from its headers (Include/cpython/pystate.h,
/// Include/internal/pycore_runtime.h, pycore_frame.h, Include/cpython/code.h, unicodeobject.h)
/// as compiled: offsetof() of each field. Debian 12's python3.11 links them statically.
inline constexpr Layout kPython311{
    .version = 0x030B,
    .runtime_interp = 584,
    .runtime_tss = 592,
    .tstate_interp = 16,
    .tstate_cframe = 56,
    .tstate_thread_id = 152,
    .tstate_size = 360,
    .cframe_current = 8,
    .frame_code = 32,
    .frame_previous = 48,
    .frame_prev_instr = 56,
    .frame_owner = 69,
    .frame_size = 72,
    .owner_generator = 1,
    .code_firstlineno = 72,
    .code_filename = 112,
    .code_qualname = 128,
    .code_linetable = 136,
    .code_firsttraceable = 168,
    .code_code = 184,
    .ob_type = 8,
    .ob_size = 16,
    .bytes_data = 32,
    .str_length = 16,
    .str_state = 32,
    .str_ascii_data = 48,
    .str_compact_data = 72,
};

/// The layout for Py_Version `hexversion`, or nullptr when that version has none.
inline const Layout* layout_for(uint32_t hexversion) {
  const uint32_t minor = hexversion >> 16;
  if (minor == kPython311.version) return &kPython311;
  return nullptr;
}

} // namespace valley::shim::py
