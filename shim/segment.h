// SPDX-License-Identifier: MIT
/// @file segment.h
/// @brief The per-process trace segment: a file in the run directory, mapped MAP_SHARED, so a
/// process killed with SIGKILL still leaves a complete trace. The file starts sparse and is backed
/// (fallocated) a page at a time as the process first touches each page: a process that makes a
/// few calls leaves a few pages. The shim touches no page that is not backed yet, since on a full
/// file system the first touch of a hole raises SIGBUS in the program; when a page cannot be
/// backed, what would have gone there is counted as full or dropped, as when a table is full.
#pragma once

#include "options.h"
#include "valley/format.h"

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace valley::shim {

inline constexpr uint32_t kMaxShards = 64;
inline constexpr uint32_t kPageShift = 12;
inline constexpr uint32_t kTablePageWords = 32; ///< 32 bits each, for the pages below bodies_offset

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
  // Backed pages, for this image only (a fork child starts a new file): the tables' pages
  // (below bodies_offset), each shard body's counter pages, and each body's event buffer from
  // its start (bytes; ~0 once all of it is backed or the buffer is given back).
  uint32_t table_pages[kTablePageWords] = {};
  uint32_t body_pages[kMaxShards] = {};
  uint64_t events_backed[kMaxShards] = {};
  uint32_t grow_failed = 0; ///< the file system refused a page: valley asks no more
  uint32_t warned = 0;      ///< the one `valley:` line about space was printed
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

/// The word and bit that say whether page `page` of the file is backed; nullptr for event pages.
inline uint32_t* page_bit(Segment& seg, uint64_t page, uint32_t* bit) {
  const uint64_t body_page = seg.hdr->bodies_offset >> kPageShift;
  if (page < body_page) {
    if ((page >> 5) >= kTablePageWords) return nullptr; // tables past the bitmap: never backed
    *bit = static_cast<uint32_t>(page & 31);
    return &seg.table_pages[page >> 5];
  }
  const uint64_t in = page - body_page, per = seg.hdr->body_size >> kPageShift;
  const uint64_t i = in / per, p = in % per;
  if (p >= seg.hdr->body_events_offset >> kPageShift) return nullptr;
  *bit = static_cast<uint32_t>(p);
  return &seg.body_pages[i];
}

/// Backs the pages of [p, p + len) not backed yet. False (after one `valley:` line per image)
/// when the file system refuses, and from then on without asking again: the caller must then
/// not touch them.
bool segment_back(Segment& seg, const void* p, size_t len);

/// True when every page of [p, p + len) in the tables or shard counter tables is backed.
inline bool segment_backed(Segment& seg, const void* p, size_t len) {
  const uint64_t off =
      static_cast<uint64_t>(static_cast<const char*>(p) - reinterpret_cast<const char*>(seg.hdr));
  for (uint64_t pg = off >> kPageShift; pg <= (off + len - 1) >> kPageShift; ++pg) {
    uint32_t bit = 0;
    uint32_t* w = page_bit(seg, pg, &bit);
    if (!w || !(at(*w).load(std::memory_order_acquire) >> bit & 1)) return false;
  }
  return true;
}

/// segment_backed, or else segment_back: true when [p, p + len) may be touched.
inline bool segment_ensure(Segment& seg, const void* p, size_t len) {
  return segment_backed(seg, p, len) || segment_back(seg, p, len);
}

/// Backs shard i's event buffer up to byte `need` from its start (more, to grow by doubling).
bool segment_back_events(Segment& seg, uint32_t i, uint64_t need);

/// Creates the events file (.vev) with its header, if no other thread did: at the first
/// drain, so that an image that records no event leaves no .vev.
bool segment_create_events(Segment& seg);

/// Creates the segment file for this process image (its .vev comes with its first events). Prints
/// one `valley:` line and returns false when that is impossible (unwritable directory, no space,
/// …).
bool segment_create(const Options& opts, Origin origin, const SegmentHeader* parent,
                    Segment* out);

/// Makes the file reach the end of shard i's body (the mapping already covers it). False (one
/// `valley:` line per image) when the file system has no room or the file size limit is lower:
/// the thread then records without a shard.
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
