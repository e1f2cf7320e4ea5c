// SPDX-License-Identifier: MIT
/// @file segment.h
/// @brief The per-process trace segment: a file in the run directory, mapped MAP_SHARED, so a
/// process killed with SIGKILL still leaves a complete trace. The header and the shared tables
/// are reserved when it is created; a shard's body when a thread first takes the shard.
#pragma once

#include "options.h"
#include "valley/format.h"

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace valley::shim {

inline constexpr uint32_t kMaxShards = 64;

struct Segment {
  SegmentHeader* hdr = nullptr;
  CounterRow* counters = nullptr; ///< the shared table
  uint32_t counters_mask = 0;
  SiteRow* sites = nullptr;
  uint32_t sites_mask = 0;
  StackRow* stacks = nullptr;
  ModuleRow* modules = nullptr;
  FileRow* files = nullptr;
  PyFrameRow* pyframes = nullptr;
  ShardHeader* shards = nullptr;
  char* bodies = nullptr;       ///< shard body 0; body i is body_size bytes further
  size_t map_size = 0;
  char seg_path[1100];
  char ev_path[1100];

  CounterRow* body_counters(uint32_t i) const {
    return reinterpret_cast<CounterRow*>(bodies + size_t{i} * hdr->body_size);
  }
  EventRecord* body_events(uint32_t i) const {
    return reinterpret_cast<EventRecord*>(bodies + size_t{i} * hdr->body_size +
                                          hdr->body_events_offset);
  }
};

/// Atomic view of a field that lives in shared memory.
template <class T> inline std::atomic_ref<T> at(T& field) { return std::atomic_ref<T>(field); }

/// Creates the segment and events files for this process image. Prints one `valley:` line
/// and returns false when that is impossible (unwritable directory, no space, …).
bool segment_create(const Options& opts, Origin origin, const SegmentHeader* parent,
                    Segment* out);

/// Reserves shard i's body in the file (the mapping already covers it). False when the file
/// system has no room: the thread then records without a shard.
bool segment_reserve_body(Segment& seg, uint32_t i);

/// Unmaps a segment (a fork child drops its parent's mapping).
void segment_unmap(Segment* seg);

/// Records the end-of-image facts: coverage from /proc and a fresh calibration pair.
void segment_record_end(Segment* seg);

/// Gives back the event storage of shard i (drained): the mapping is replaced by anonymous
/// memory (a racing late writer cannot fault) and the file range is punched out.
void segment_release_events(Segment* seg, uint32_t i);

/// Re-reserves and maps what segment_release_events gave back (an exec that failed).
bool segment_restore_events(Segment* seg);

/// A new (ticks, CLOCK_MONOTONIC) pair for the header.
void segment_calibrate(Segment* seg);

} // namespace valley::shim
