// SPDX-License-Identifier: MIT
/// @file segment.h
/// @brief The per-process trace segment: a file in the run directory, reserved up front and
/// mapped MAP_SHARED, so a process killed with SIGKILL still leaves a complete trace.
#pragma once

#include "options.h"
#include "valley/format.h"

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace valley::shim {

struct Segment {
  SegmentHeader* hdr = nullptr;
  CounterRow* counters = nullptr;
  uint32_t counters_mask = 0;
  SiteRow* sites = nullptr;
  uint32_t sites_mask = 0;
  StackRow* stacks = nullptr;
  ModuleRow* modules = nullptr;
  FileRow* files = nullptr;
  EventRecord* ring = nullptr;
  uint64_t ring_mask = 0; ///< capacity - 1; capacity 0 when the event log is off
  size_t map_size = 0;
  char seg_path[1100];
  char ev_path[1100];
};

/// Atomic view of a field that lives in shared memory.
template <class T> inline std::atomic_ref<T> at(T& field) { return std::atomic_ref<T>(field); }

/// Creates the segment and events files for this process image. Prints one `valley:` line
/// and returns false when that is impossible (unwritable directory, no space, …).
bool segment_create(const Options& opts, Origin origin, const SegmentHeader* parent,
                    Segment* out);

/// Unmaps a segment (a fork child drops its parent's mapping).
void segment_unmap(Segment* seg);

/// Records the end-of-image facts: coverage from /proc/self/io and a fresh calibration pair.
void segment_record_end(Segment* seg);

/// Gives the ring's storage back once it is drained: the mapping is replaced by anonymous
/// memory (a racing late writer cannot fault) and the file range is punched out.
void segment_release_ring(Segment* seg);

/// Re-reserves and maps the ring after segment_release_ring (an exec that failed).
bool segment_restore_ring(Segment* seg);

/// A new (ticks, CLOCK_MONOTONIC) pair for the header.
void segment_calibrate(Segment* seg);

/// The kernel's I/O counts at tracing start, for coverage deltas (and in a fork child, a fresh
/// start: the parent's ended threads are forgotten).
void segment_note_io_start();

/// A thread that made calls is ending (its last moment in valley): its kernel counts are kept
/// for coverage, since its /proc/self/task entry goes with it.
void segment_thread_exited(uint32_t tid);

} // namespace valley::shim
