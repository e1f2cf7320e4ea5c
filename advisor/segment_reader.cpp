// SPDX-License-Identifier: MIT
/// @file segment_reader.cpp
/// @brief Validating reader for .vseg segments and run directories; see format.h for the
/// layout it checks.
#include "reader_detail.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <stdexcept>
#include <system_error>
#include <tuple>

namespace valley::advisor {
namespace fs = std::filesystem;
using namespace detail;

namespace {

/// Clamps a *_used count to what the section holds.
uint32_t clamp_used(const char* field, uint32_t used, const Section& s, const SectionView& v,
                    Reporter& report) {
  if (used > s.capacity) {
    report("{} is {} but the section holds only {} entries; clamped", field, used, s.capacity);
    used = s.capacity;
  }
  return std::min(used, v.count);
}

/// Calls fn(index, row) for rows [0, count) of a section, a chunk at a time.
template <typename Row, typename Fn>
void for_each_row(const InputFile& file, const SectionView& v, uint32_t count, Reporter& report,
                  const char* name, Fn&& fn) {
  constexpr uint32_t kChunk = 256;
  std::vector<Row> buf(std::min(count, kChunk));
  for (uint32_t first = 0; first < count; first += kChunk) {
    uint32_t n = std::min(kChunk, count - first);
    uint64_t at = v.offset + uint64_t{first} * sizeof(Row);
    if (!file.read_at(at, buf.data(), n * sizeof(Row))) {
      report("section '{}': cannot read entries at offset {}", name, hex(at));
      return;
    }
    for (uint32_t i = 0; i < n; ++i)
      fn(first + i, buf[i]);
  }
}

template <size_t N>
void check_string(char (&field)[N], Reporter& report, const std::string& where) {
  if (::strnlen(field, N) == N) report("{} is not NUL-terminated; cut to {} bytes", where, N - 1);
  field[N - 1] = '\0';
}

bool counter_key_ok(uint32_t row, uint64_t key, Reporter& report) {
  if (key == kCatchAllKey) return true;
  // Any 32-bit site is fine, kSiteUnknown included (calls that got no site row).
  if ((key >> 16) == 0 || (key >> 16) > UINT32_MAX) {
    report("counters[{}]: key {} names no call site; row skipped", row, hex(key));
    return false;
  }
  auto op = static_cast<uint8_t>(key_op(key));
  auto kind = static_cast<uint8_t>(key_kind(key));
  if (op_valid(op) && kind_valid(kind)) return true;
  report("counters[{}]: op {} / fd kind {} out of range (op 1..{}, kind 0..{}); row skipped", row,
         op, kind, kOpMax, kFdKindMax);
  return false;
}

uint64_t sat_add(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }

// The same key in the shared table and in shards: one row with the sums. last_file is the
// latest file id any of them saw (ids grow with time).
void add_row(CounterRow& into, const CounterRow& r) {
  into.calls = sat_add(into.calls, r.calls);
  into.errors = sat_add(into.errors, r.errors);
  into.bytes = sat_add(into.bytes, r.bytes);
  into.requested = sat_add(into.requested, r.requested);
  into.ticks = sat_add(into.ticks, r.ticks);
  into.zero_results = sat_add(into.zero_results, r.zero_results);
  for (uint32_t b = 0; b < kHistBuckets; ++b) {
    into.size_hist[b] = sat_add(into.size_hist[b], r.size_hist[b]);
    into.gap_hist[b] = sat_add(into.gap_hist[b], r.gap_hist[b]);
  }
  into.last_file = std::max(into.last_file, r.last_file);
}

// The shard headers, and which bodies the file holds.
void read_shards(const InputFile& file, Trace& t, Reporter& report) {
  const SegmentHeader& h = t.header;
  const uint64_t size = file.size();
  SectionView v = check_section("shards", h.shards, sizeof(ShardHeader), h.header_size, size, report);
  for_each_row<ShardHeader>(file, v, v.count, report, "shards", [&](uint32_t i, ShardHeader s) {
    if (s.drained > s.head) {
      report("shards[{}]: drained {} is beyond head {}; set to head", i, s.drained, s.head);
      s.drained = s.head;
    }
    t.shards.push_back(s);
  });
  t.bodies.assign(t.shards.size(), false);
  const uint64_t rows_bytes = uint64_t{h.body_counters} * sizeof(CounterRow);
  const uint64_t events_bytes = uint64_t{h.body_events} * sizeof(EventRecord);
  if (h.body_events && (h.body_events & (h.body_events - 1)) != 0) {
    report("body_events {} is not a power of two; no shard body read", h.body_events);
    return;
  }
  if (h.body_size == 0 || rows_bytes > h.body_events_offset ||
      h.body_events_offset + events_bytes > h.body_size || h.bodies_offset < h.header_size) {
    if (h.body_size || h.body_counters || h.body_events)
      report("shard bodies of {} bytes at offset {} cannot hold {} counter rows and {} events "
             "at offset {}; no shard body read",
             h.body_size, hex(h.bodies_offset), h.body_counters, h.body_events, h.body_events_offset);
    return;
  }
  for (uint32_t i = 0; i < t.shards.size(); ++i) {
    if (!(t.shards[i].state & kShardReserved)) continue;
    uint64_t at = 0, end = 0;
    if (__builtin_mul_overflow(uint64_t{i}, uint64_t{h.body_size}, &at) ||
        __builtin_add_overflow(at, h.bodies_offset, &at) ||
        __builtin_add_overflow(at, uint64_t{h.body_size}, &end) || end > size) {
      report("shards[{}]: its body at offset {} is past the end of the file (size {})", i, hex(at), size);
      continue;
    }
    t.bodies[i] = true;
  }
}

void read_tables(const InputFile& file, Trace& t, Reporter& report) {
  const SegmentHeader& h = t.header;
  const uint64_t hs = h.header_size, size = file.size();

  read_shards(file, t, report);
  SectionView cv = check_section("counters", h.counters, sizeof(CounterRow), hs, size, report);
  // Counters and sites are claimed by compare-and-swap into hashed slots: scan every row.
  std::map<uint64_t, size_t> by_key;
  auto add = [&](uint32_t row, const CounterRow& r) {
    auto [it, fresh] = by_key.try_emplace(r.key, t.counters.size());
    if (fresh) t.counters.push_back({row, r});
    else add_row(t.counters[it->second].data, r);
  };
  for_each_row<CounterRow>(file, cv, cv.count, report, "counters",
                           [&](uint32_t i, const CounterRow& r) {
                             if (r.key != 0 && counter_key_ok(i, r.key, report)) add(i, r);
                           });
  for (uint32_t s = 0; s < t.shards.size(); ++s) {
    if (!t.bodies[s]) continue;
    const SectionView body{h.bodies_offset + uint64_t{s} * h.body_size, h.body_counters};
    const uint32_t first = h.counters.capacity + s * h.body_counters;
    for_each_row<CounterRow>(file, body, body.count, report, "shard counters",
                             [&](uint32_t i, const CounterRow& r) {
                               if (r.key != 0 && counter_key_ok(first + i, r.key, report))
                                 add(first + i, r);
                             });
  }
  std::sort(t.counters.begin(), t.counters.end(),
            [](const CounterEntry& a, const CounterEntry& b) { return a.row < b.row; });
  // What the shards lost or skipped is the trace's loss.
  for (const ShardHeader& sh : t.shards) {
    t.header.events_dropped = sat_add(t.header.events_dropped, sh.dropped);
    t.header.events_torn = sat_add(t.header.events_torn, sh.torn);
  }

  SectionView sv = check_section("sites", h.sites, sizeof(SiteRow), hs, size, report);
  for_each_row<SiteRow>(file, sv, sv.count, report, "sites", [&](uint32_t i, const SiteRow& r) {
    if (r.key != 0) t.sites.push_back({i, r});
  });

  SectionView stv = check_section("stacks", h.stacks, sizeof(StackRow), hs, size, report);
  uint32_t nstacks = clamp_used("stacks_used", h.stacks_used, h.stacks, stv, report);
  for_each_row<StackRow>(file, stv, nstacks, report, "stacks", [&](uint32_t i, StackRow r) {
    if (r.nframes > kMaxFrames) {
      report("stacks[{}]: nframes {} exceeds {}; clamped", i, r.nframes, kMaxFrames);
      r.nframes = kMaxFrames;
    }
    t.stacks.push_back(r);
  });

  SectionView mv = check_section("modules", h.modules, sizeof(ModuleRow), hs, size, report);
  uint32_t nmodules = clamp_used("modules_used", h.modules_used, h.modules, mv, report);
  for_each_row<ModuleRow>(file, mv, nmodules, report, "modules", [&](uint32_t i, ModuleRow r) {
    if (r.build_id_len > sizeof(r.build_id)) {
      report("modules[{}]: build_id_len {} exceeds {}; clamped", i, r.build_id_len,
             sizeof(r.build_id));
      r.build_id_len = sizeof(r.build_id);
    }
    check_string(r.path, report, fmt::format("modules[{}].path", i));
    t.modules.push_back(r);
  });

  SectionView fv = check_section("files", h.files, sizeof(FileRow), hs, size, report);
  uint32_t nfiles = clamp_used("files_used", h.files_used, h.files, fv, report);
  for_each_row<FileRow>(file, fv, nfiles, report, "files", [&](uint32_t i, FileRow r) {
    if (!kind_valid(r.kind))
      report("files[{}]: fd kind {} out of range (0..{})", i, r.kind, kFdKindMax);
    check_string(r.path, report, fmt::format("files[{}].path", i));
    t.files.push_back(r);
  });

  if (h.pyframes.capacity != 0) {
    SectionView pv = check_section("pyframes", h.pyframes, sizeof(PyFrameRow), hs, size, report);
    uint32_t npy = clamp_used("pyframes_used", h.pyframes_used, h.pyframes, pv, report);
    for_each_row<PyFrameRow>(file, pv, npy, report, "pyframes", [&](uint32_t i, PyFrameRow r) {
      check_string(r.function, report, fmt::format("pyframes[{}].function", i));
      check_string(r.file, report, fmt::format("pyframes[{}].file", i));
      t.pyframes.push_back(r);
    });
  }

  // Dangling references: keep the rows, drop the reference.
  for (SiteEntry& s : t.sites) {
    if ((s.data.flags & kSitePython) && s.data.caller > t.pyframes.size()) {
      report("sites[{}]: Python stack {} refers to no stored frame ({} stored)", s.id,
             s.data.caller, t.pyframes.size());
      s.data.caller = 0;
    }
    if (s.data.first_stack > t.stacks.size()) {
      report("sites[{}]: first_stack {} refers to no stored stack ({} stored)", s.id,
             s.data.first_stack, t.stacks.size());
      s.data.first_stack = 0;
    }
  }
  for (size_t i = 0; i < t.stacks.size(); ++i) {
    if (t.stacks[i].modules_seen > t.modules.size()) {
      report("stacks[{}]: modules_seen {} exceeds the {} stored modules; clamped", i,
             t.stacks[i].modules_seen, t.modules.size());
      t.stacks[i].modules_seen = static_cast<uint32_t>(t.modules.size());
    }
  }
}

/// Reads and validates the segment header; false when nothing after it can be trusted.
bool read_header(const InputFile& file, Trace& t, Reporter& report) {
  SegmentHeader& h = t.header;
  constexpr size_t kPrefix = offsetof(SegmentHeader, segment_size);
  if (file.size() < kPrefix || !file.read_at(0, &h, kPrefix)) {
    report("truncated header: file is {} bytes, a segment header is {}", file.size(),
           sizeof(SegmentHeader));
    return false;
  }
  if (!check_magic_and_version(h.magic, kSegmentMagic, "segment", h.version, report)) return false;
  // A smaller header cannot be a valid one. A larger one may carry fields appended later,
  // which this reader ignores.
  if (h.header_size < sizeof(SegmentHeader)) {
    report("header_size {} (offset {}) is smaller than the {} bytes of format {}", h.header_size,
           hex(offsetof(SegmentHeader, header_size)), sizeof(SegmentHeader), h.version);
    return false;
  }
  if (file.size() < h.header_size || !file.read_at(0, &h, sizeof(SegmentHeader))) {
    report("truncated header: file is {} bytes, header_size is {}", file.size(), h.header_size);
    return false;
  }
  if (h.pid != t.pid || h.seq != t.seq)
    report("header says pid {} seq {}, the file name says {}-{}", h.pid, h.seq, t.pid, t.seq);
  if (h.origin != Origin::start && h.origin != Origin::fork)
    report("origin {} at offset {} is not a known value", static_cast<uint32_t>(h.origin),
           hex(offsetof(SegmentHeader, origin)));
  if (h.clock != ClockKind::tsc && h.clock != ClockKind::monotonic)
    report("clock {} at offset {} is not a known value", static_cast<uint32_t>(h.clock),
           hex(offsetof(SegmentHeader, clock)));
  check_string(h.exe, report, "header field 'exe'");
  if (h.cmdline_len > kCmdlineMax) {
    report("cmdline_len {} exceeds {}; clamped", h.cmdline_len, kCmdlineMax);
    h.cmdline_len = kCmdlineMax;
  }
  return true;
}

/// Parses "<pid>-<n>" into numbers; false for any other name.
bool parse_trace_name(std::string_view stem, uint32_t& pid, uint32_t& seq) {
  size_t dash = stem.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == stem.size()) return false;
  auto num = [](std::string_view s, uint32_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
  };
  return num(stem.substr(0, dash), pid) && num(stem.substr(dash + 1), seq);
}

} // namespace

Trace read_trace(const fs::path& segment, const fs::path& events) {
  Trace t;
  t.segment_path = segment;
  t.events_path = events;
  t.name = segment.stem().string();
  Reporter report{t.problems, file_name(segment)};
  if (!parse_trace_name(t.name, t.pid, t.seq)) report("file name is not <pid>-<n>.vseg");
  InputFile file(segment);
  if (!file.ok()) {
    report("cannot open: {}", file.error());
    return t;
  }
  t.segment_file_size = file.size();
  if (!read_header(file, t, report)) return t;
  t.header_valid = true;
  read_tables(file, t, report);
  uint64_t drained = 0;
  for (const ShardHeader& sh : t.shards) drained += sh.drained;
  if (events.empty() && drained > 0)
    report("{} events were drained, but {}.vev is missing", drained, t.name);
  return t;
}

RunDir read_run_dir(const fs::path& dir) {
  std::error_code ec;
  fs::file_status st = fs::status(dir, ec);
  if (st.type() == fs::file_type::not_found)
    throw std::runtime_error(fmt::format("{}: no such directory", dir.string()));
  if (ec) throw std::runtime_error(fmt::format("{}: {}", dir.string(), ec.message()));
  if (st.type() != fs::file_type::directory)
    throw std::runtime_error(fmt::format("{}: not a directory", dir.string()));
  RunDir run;
  run.path = dir;
  struct Names {
    fs::path segment, events;
  };
  // Ordered by (pid, seq) numerically; unparsable names sort first by their text.
  std::map<std::tuple<uint32_t, uint32_t, std::string>, Names> found;
  fs::directory_iterator it(dir, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: {}", dir.string(), ec.message()));
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) throw std::runtime_error(fmt::format("{}: {}", dir.string(), ec.message()));
    const fs::path& p = it->path();
    std::string ext = p.extension().string();
    if (ext != ".vseg" && ext != ".vev") continue;
    uint32_t pid = 0, seq = 0;
    std::string stem = p.stem().string();
    if (!parse_trace_name(stem, pid, seq)) {
      run.problems.push_back({file_name(p), "file name is not <pid>-<n>" + ext + "; ignored"});
      continue;
    }
    Names& n = found[{pid, seq, stem}];
    (ext == ".vseg" ? n.segment : n.events) = p;
  }
  for (auto& [key, names] : found) {
    if (names.segment.empty()) {
      run.problems.push_back(
          {file_name(names.events), "no matching .vseg segment; events not read"});
      continue;
    }
    run.traces.push_back(read_trace(names.segment, names.events));
  }
  return run;
}

} // namespace valley::advisor
