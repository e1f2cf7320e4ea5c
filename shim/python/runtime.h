// SPDX-License-Identifier: MIT
/// @file runtime.h
/// @brief Finding a CPython interpreter in the process (the main executable or a libpython
/// shared library) by its dynamic symbols, at start-up and again when new images appear.
#pragma once

#include "python/frames.h"
#include "segment.h"

#include <atomic>

namespace valley::shim::py {

/// The interpreter calls are keyed by; layout == nullptr until one is found. Written once,
/// before g_active is set (release).
extern constinit Runtime g_runtime;
extern constinit std::atomic<bool> g_active;

/// Looks for an interpreter in the loaded images; notes what it found in the segment header
/// (py_state, py_version). Cheap when already decided. Never allocates (reads the images'
/// dynamic symbol tables in memory, not dlsym).
void detect(Segment& seg);

/// Writes what detect() decided into a new segment's header (a fork child's).
void note_state(Segment& seg);

inline bool active() { return g_active.load(std::memory_order_acquire); }

} // namespace valley::shim::py
