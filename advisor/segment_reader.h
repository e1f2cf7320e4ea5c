// SPDX-License-Identifier: MIT
/// @file segment_reader.h
/// @brief Reads a run directory (.vseg segments and .vev event files) into plain structs,
/// treating every byte as untrusted: problems become diagnostics, never exceptions or UB.
#pragma once

#include "valley/format.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace valley::advisor {

/// Something wrong in a trace file. The reader keeps everything it still can.
struct Problem {
  std::string file;    ///< file name inside the run directory, e.g. "3410-0.vseg"
  std::string message; ///< what is wrong and where (field name or byte offset)
};

struct CounterEntry {
  uint32_t row; ///< index in the counters section
  CounterRow data;
};

struct SiteEntry {
  uint32_t id; ///< the call-site id events and counters refer to (its row index)
  SiteRow data;
};

/// One traced process image: <pid>-<n>.vseg and, if present, <pid>-<n>.vev.
struct Trace {
  std::string name; ///< "<pid>-<n>"
  uint32_t pid = 0; ///< from the file name
  uint32_t seq = 0; ///< from the file name
  std::filesystem::path segment_path;
  std::filesystem::path events_path; ///< empty when there is no .vev file
  uint64_t segment_file_size = 0;

  /// False when the header could not be read or is unusable; the tables below are then empty.
  bool header_valid = false;
  /// As in the file, except that events_dropped and events_torn also hold the shards' counts.
  SegmentHeader header{};
  /// One entry per key: the shared table's row and every shard's row with that key, added up.
  /// `row` is the shared table's row index, or for a key only shards hold, the shared table's
  /// capacity + shard * body_counters + the row in the shard.
  std::vector<CounterEntry> counters;
  std::vector<SiteEntry> sites;       ///< rows with a key, in id order
  std::vector<StackRow> stacks;       ///< stack id = index + 1; frame counts clamped
  std::vector<ModuleRow> modules;     ///< load order; build_id_len clamped
  std::vector<FileRow> files;         ///< file id = index + 1
  std::vector<PyFrameRow> pyframes;   ///< PyFrameRow id = index + 1; strings NUL-terminated
  /// Every shard header (index = shard id); `bodies[i]` says whether body i is in the file.
  std::vector<ShardHeader> shards;
  std::vector<bool> bodies;
  std::vector<Problem> problems;      ///< found while reading the segment and the .vev header
};

/// The traces of a run directory, sorted by (pid, seq).
struct RunDir {
  std::filesystem::path path;
  std::vector<Trace> traces;
  std::vector<Problem> problems; ///< files that belong to no readable trace (stray .vev, bad names)
};

/// Reads every <pid>-<n>.vseg in `dir`. Throws std::runtime_error only when the directory itself
/// cannot be listed; anything wrong inside the files is reported in the Problems.
RunDir read_run_dir(const std::filesystem::path& dir);

/// Reads one segment (and checks the header of its events file, which may be empty).
Trace read_trace(const std::filesystem::path& segment, const std::filesystem::path& events);

enum class EventSource : uint8_t {
  file, ///< drained into the .vev file
  ring, ///< recovered from the ring: the process ended before draining it
};

struct EventTally {
  uint64_t from_file = 0;  ///< complete, valid records read from the .vev file
  uint64_t from_ring = 0;  ///< committed records read from the shards' undrained buffers
  uint64_t torn = 0;       ///< undrained slots never committed, or tombstones
  uint64_t invalid = 0;    ///< records skipped because a field was out of range
  uint64_t late = 0;       ///< delivered records flagged kEventLate
  uint64_t last_ticks = 0; ///< the latest `ticks` delivered: a killed process's real end
  uint64_t calls = 0;      ///< program calls the delivered records stand for (runs count whole)
  void count(const EventRecord& e) {
    calls += event_calls(e);
    if (e.flags & kEventLate) ++late;
    if (event_last_ticks(e) > last_ticks) last_ticks = event_last_ticks(e);
  }
  uint64_t total() const { return from_file + from_ring; }
};

using EventVisitor = std::function<void(const EventRecord&, EventSource)>;

/// Calls `each` once per program call an event stands for. A run record (kEventRun) becomes
/// its calls with their times spread evenly from the first to the last: the shim kept only
/// those two.
template <class F> void for_each_call(const EventRecord& e, F&& each) {
  const uint64_t n = event_calls(e);
  if (!(e.flags & kEventRun) || n < 2) {
    each(e);
    return;
  }
  const uint64_t first = e.ticks, last = std::max(first, event_last_ticks(e));
  EventRecord one = e;
  one.flags = static_cast<uint8_t>(e.flags & ~kEventRun);
  one.offset = -1;
  one.duration = 0;
  for (uint64_t k = 0; k < n; ++k) {
    one.ticks = first + static_cast<uint64_t>(static_cast<unsigned __int128>(last - first) * k / (n - 1));
    each(one);
  }
}

/// Streams the events of a trace in time order: each shard's records (its blocks in the .vev
/// file, then what is still in its buffer, then its held run record) and the directly appended
/// ones, merged by `ticks`. Memory grows with the number of blocks (one per drain), not events.
/// Problems are appended to `problems`.
EventTally read_events(const Trace& trace, const EventVisitor& visit,
                       std::vector<Problem>& problems);

/// The text of a fixed-size char field, up to its first NUL (or the whole field).
template <size_t N> std::string_view fixed_string(const char (&field)[N]) {
  return {field, ::strnlen(field, N)};
}

} // namespace valley::advisor
