// SPDX-License-Identifier: MIT
/// @file trace_builder.h
/// @brief Builds valid .vseg/.vev files with chosen contents from the format.h structs, so
/// reader and dump tests do not need the shim. Tests corrupt the bytes afterwards.
#pragma once

#include "valley/format.h"

#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace valley::testing {

struct TraceBuilder {
  /// A finished process with 0.5 ns per tick, started at tick 1000, 1 ms long.
  explicit TraceBuilder(uint32_t pid, uint32_t seq = 0);

  SegmentHeader header{}; ///< section fields, *_used and ring positions are set by segment()

  std::vector<std::pair<uint32_t, CounterRow>> counters; ///< (row index, row)
  std::vector<std::pair<uint32_t, SiteRow>> sites;       ///< (site id = row index, row)
  std::vector<StackRow> stacks;
  std::vector<ModuleRow> modules;
  std::vector<FileRow> files;

  // Events of shard 0 (tid 4242), the only shard with a body; shard 1 is free.
  std::vector<EventRecord> drained;   ///< in the .vev file as one block, indices [0, n)
  std::vector<EventRecord> late;      ///< appended to the .vev file after it, one direct block
  std::vector<EventRecord> undrained; ///< still in shard 0's buffer after them
  std::set<size_t> torn;              ///< indexes into `undrained` never committed
  bool events_file = true;            ///< write a .vev file at all
  std::vector<std::pair<uint32_t, CounterRow>> shard_counters; ///< (row in shard 0, row)

  uint32_t counter_capacity = 16, site_capacity = 16, stack_capacity = 8, module_capacity = 8,
           file_capacity = 8, ring_capacity = 8; ///< ring_capacity: shard 0's event slots
  static constexpr uint32_t kShards = 2, kShardCounters = 4;

  CounterRow& add_counter(uint32_t row, uint32_t site, Op op, FdKind kind);
  SiteRow& add_site(uint32_t id, uint64_t return_address, uint32_t first_stack = 0);
  StackRow& add_stack(uint32_t site, std::vector<uint64_t> frames);
  ModuleRow& add_module(const std::string& path, uint64_t bias, uint64_t lo, uint64_t hi);
  FileRow& add_file(int fd, FdKind kind, const std::string& path);
  void set_cmdline(const std::vector<std::string>& argv);

  std::string segment() const;
  std::string events() const;
  std::string name() const; ///< "<pid>-<seq>"
  /// Writes <pid>-<seq>.vseg and (if events_file) <pid>-<seq>.vev into `dir`.
  void write(const std::filesystem::path& dir) const;

  /// Offset of each section in segment(), for tests that point into them.
  uint64_t section_offset(const Section SegmentHeader::*which) const;
  uint64_t bodies_offset() const; ///< shard 0's body: its counter rows, then its events
  uint64_t events_offset() const; ///< shard 0's event slot 0
  uint64_t shard_offset(uint32_t i) const; ///< ShardHeader i
};

/// A trace with a bit of everything, the fixture most tests start from:
///   modules: [0] /nonexistent/bin/victim (main), [1] /nonexistent/lib/libc.so.6
///   sites: 0 (first stack 1), 5 (split, caller 0x555500001600, first stack 2)
///   counters: row 0 catch-all (2 calls); row 3 site 0 write file: 100 calls, 800 bytes,
///     20000 ticks, sizes 100 x 8 bytes, gaps 1 x first + 99 x 4000 ticks, last file 1;
///     row 9 site 5 read pipe: 7 calls
///   files: 1 = fd 3 /tmp/out.csv, 2 = fd 0 pipe:[1234]
///   events: 5 drained writes (ticks 2000, 2100, …), 2 late writes (3000, 3100), 3 undrained
///     reads failing with EAGAIN (4000, 4100, 4200), the second one torn; all of shard 0
TraceBuilder sample_trace(uint32_t pid = 3410);

EventRecord make_event(Op op, int fd, FdKind kind, uint32_t size, int64_t result, uint64_t ticks,
                       uint32_t site);

template <typename T> void put(std::string& bytes, size_t offset, const T& value) {
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

void write_file(const std::filesystem::path& path, const std::string& bytes);
std::string read_file(const std::filesystem::path& path);

/// A fresh empty directory under the test temp dir, removed by the destructor.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

} // namespace valley::testing
