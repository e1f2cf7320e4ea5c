// SPDX-License-Identifier: MIT
/// @file call_site.h
/// @brief A call made while Python code runs on this thread: its site key (native return
/// address, code object, instruction offset) and, at first sight, its Python stack.
#pragma once

#include "segment.h"
#include "thread.h"

#include <cstdint>

namespace valley::shim::py {

inline constexpr uint32_t kMaxPyFrames = 16; ///< Python frames kept per site

/// The site key of a call with return address `ra` made while this thread runs Python code,
/// or 0 when it does not (no interpreter, no thread state, no complete frame, a failed check).
/// Keys have bit 62 set and bit 63 clear: they never equal a return address or a split key.
uint64_t call_key(Thread& t, uint64_t ra);

/// Copies this thread's Python stack (at most min(max_frames, kMaxPyFrames) frames) into the
/// segment's PyFrameRows for `site`; the first row's id (index + 1), 0 when nothing was stored.
uint32_t store_stack(Segment& seg, Thread& t, uint32_t site, uint32_t max_frames);

} // namespace valley::shim::py
