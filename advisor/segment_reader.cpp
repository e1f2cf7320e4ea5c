// SPDX-License-Identifier: MIT
/// @file segment_reader.cpp
/// @brief Validating reader for .vseg/.vev files; see format.h for the layout it checks.
#include "segment_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <map>
#include <optional>
#include <stdexcept>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace valley::advisor {
namespace fs = std::filesystem;

namespace {

// Files are read with pread, not mmap: a file shrunk by someone else must give a short read,
// not SIGBUS.
class InputFile {
public:
  explicit InputFile(const fs::path& path) {
    // O_NONBLOCK so that a FIFO named like a trace cannot hang the reader.
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0) {
      error_ = std::strerror(errno);
      return;
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      error_ = std::strerror(errno);
    } else if (!S_ISREG(st.st_mode)) {
      error_ = "not a regular file";
    } else {
      size_ = static_cast<uint64_t>(st.st_size);
      return;
    }
    ::close(fd_);
    fd_ = -1;
  }
  ~InputFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  bool ok() const { return fd_ >= 0; }
  const std::string& error() const { return error_; }
  uint64_t size() const { return size_; }

  /// Reads exactly `n` bytes at `offset`; false if the file ends first or reading fails.
  bool read_at(uint64_t offset, void* buf, size_t n) const {
    auto* out = static_cast<char*>(buf);
    while (n > 0) {
      ssize_t got = ::pread(fd_, out, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      out += got;
      n -= static_cast<size_t>(got);
      offset += static_cast<uint64_t>(got);
    }
    return true;
  }

private:
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string error_;
};

std::string hex(uint64_t v) { return fmt::format("{:#x}", v); }

std::string file_name(const fs::path& p) { return p.filename().string(); }

struct Reporter {
  std::vector<Problem>& out;
  std::string file;
  template <typename... Args> void operator()(fmt::format_string<Args...> f, Args&&... args) {
    out.push_back({file, fmt::format(f, std::forward<Args>(args)...)});
  }
};

/// The entries of a section that are safe to read.
struct SectionView {
  uint64_t offset = 0;
  uint32_t count = 0;
};

SectionView check_section(const char* name, const Section& s, size_t entry_size,
                          uint64_t header_size, uint64_t file_size, Reporter& report) {
  if (s.capacity == 0) return {};
  if (s.entry_size != entry_size) {
    report("section '{}' has entry_size {}, this valley reads entries of {} bytes; section skipped",
           name, s.entry_size, entry_size);
    return {};
  }
  if (s.offset < header_size) {
    report("section '{}' at offset {} overlaps the header ({} bytes); section skipped", name,
           hex(s.offset), header_size);
    return {};
  }
  if (s.offset >= file_size) {
    report("section '{}' at offset {} starts past end of file (size {})", name, hex(s.offset),
           file_size);
    return {};
  }
  uint64_t fit = (file_size - s.offset) / entry_size; // no overflow: offset < file_size
  if (fit < s.capacity) {
    report("section '{}' at offset {} extends past end of file (size {}): {} of {} entries kept",
           name, hex(s.offset), file_size, fit, s.capacity);
    return {s.offset, static_cast<uint32_t>(fit)};
  }
  return {s.offset, s.capacity};
}

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

bool op_valid(uint8_t op) { return op >= 1 && op <= kOpMax; }
bool kind_valid(uint8_t kind) { return kind <= kFdKindMax; }

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

void read_tables(const InputFile& file, Trace& t, Reporter& report) {
  const SegmentHeader& h = t.header;
  const uint64_t hs = h.header_size, size = file.size();

  SectionView cv = check_section("counters", h.counters, sizeof(CounterRow), hs, size, report);
  // Counters and sites are claimed by compare-and-swap into hashed slots: scan every row.
  for_each_row<CounterRow>(file, cv, cv.count, report, "counters",
                           [&](uint32_t i, const CounterRow& r) {
                             if (r.key != 0 && counter_key_ok(i, r.key, report))
                               t.counters.push_back({i, r});
                           });

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

  // Dangling references: keep the rows, drop the reference.
  for (SiteEntry& s : t.sites) {
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
  if (std::memcmp(h.magic, kSegmentMagic, sizeof(kSegmentMagic)) != 0) {
    report("bad magic at offset 0x0: not a valley segment");
    return false;
  }
  if (h.version > kFormatVersion) {
    report("written by a newer valley (format {}), this valley reads <= {}", h.version,
           kFormatVersion);
    return false;
  }
  if (h.version == 0) {
    report("format version 0 at offset {} is not valid", hex(offsetof(SegmentHeader, version)));
    return false;
  }
  // Version 1 is the first format: a smaller header cannot be a valid one. A larger one may
  // carry fields appended later, which this reader ignores.
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
  if (h.ring_drained > h.ring_head)
    report("ring_drained {} is beyond ring_head {}", h.ring_drained, h.ring_head);
  if (h.ring.capacity != 0 && (h.ring.capacity & (h.ring.capacity - 1)) != 0)
    report("ring capacity {} is not a power of two", h.ring.capacity);
  return true;
}

struct EventsFileView {
  uint64_t first = 0; ///< offset of record 0
  uint64_t records = 0;
};

/// Validates a .vev header; nullopt when its records cannot be read.
std::optional<EventsFileView> check_events_file(const InputFile& file, const Trace& t,
                                                Reporter& report) {
  if (!file.ok()) {
    report("cannot open: {}", file.error());
    return std::nullopt;
  }
  EventsHeader eh{};
  if (file.size() < sizeof(EventsHeader) || !file.read_at(0, &eh, sizeof(eh))) {
    report("truncated header: file is {} bytes, an events header is {}", file.size(),
           sizeof(EventsHeader));
    return std::nullopt;
  }
  if (std::memcmp(eh.magic, kEventsMagic, sizeof(kEventsMagic)) != 0) {
    report("bad magic at offset 0x0: not a valley events file");
    return std::nullopt;
  }
  if (eh.version > kFormatVersion) {
    report("written by a newer valley (format {}), this valley reads <= {}", eh.version,
           kFormatVersion);
    return std::nullopt;
  }
  if (eh.version == 0) {
    report("format version 0 is not valid");
    return std::nullopt;
  }
  if (eh.header_size < sizeof(EventsHeader) || eh.header_size > file.size()) {
    report("header_size {} is out of range ({}..{} for this file)", eh.header_size,
           sizeof(EventsHeader), file.size());
    return std::nullopt;
  }
  if (eh.record_size != sizeof(EventRecord)) {
    report("record_size {} (offset {}), this valley reads records of {} bytes; events skipped",
           eh.record_size, hex(offsetof(EventsHeader, record_size)), sizeof(EventRecord));
    return std::nullopt;
  }
  if (t.header_valid && (eh.pid != t.header.pid || eh.seq != t.header.seq))
    report("header says pid {} seq {}, its segment says pid {} seq {}", eh.pid, eh.seq,
           t.header.pid, t.header.seq);
  uint64_t body = file.size() - eh.header_size;
  uint64_t partial = body % sizeof(EventRecord);
  EventsFileView v{eh.header_size, body / sizeof(EventRecord)};
  if (partial != 0)
    report("truncated record at offset {}: {} of {} bytes; the {} complete records are kept",
           hex(v.first + v.records * sizeof(EventRecord)), partial, sizeof(EventRecord), v.records);
  return v;
}

/// Validates one event; reports the first few bad ones of a file with their position.
class EventChecker {
public:
  explicit EventChecker(Reporter& report) : report_(report) {}
  bool ok(const EventRecord& e, const std::string& where) {
    if (op_valid(e.op) && kind_valid(e.fd_kind)) return true;
    if (++bad_ <= kShown)
      report_("{}: op {} / fd kind {} out of range (op 1..{}, kind 0..{}); event skipped", where,
              e.op, e.fd_kind, kOpMax, kFdKindMax);
    return false;
  }
  void finish() {
    if (bad_ > kShown) report_("{} more invalid events skipped", bad_ - kShown);
  }
  uint64_t bad() const { return bad_; }

private:
  static constexpr uint64_t kShown = 5;
  Reporter& report_;
  uint64_t bad_ = 0;
};

constexpr size_t kEventChunk = 4096;

/// Returns how many records of the file are drained ring records (not late ones).
uint64_t read_file_events(const Trace& t, const EventVisitor& visit, std::vector<Problem>& problems,
                          EventTally& tally) {
  Reporter report{problems, file_name(t.events_path)};
  InputFile file(t.events_path);
  std::optional<EventsFileView> v = check_events_file(file, t, report);
  if (!v) return 0;
  EventChecker checker(report);
  std::vector<EventRecord> buf(static_cast<size_t>(std::min<uint64_t>(v->records, kEventChunk)));
  uint64_t nonlate = 0;
  for (uint64_t first = 0; first < v->records; first += kEventChunk) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kEventChunk, v->records - first));
    uint64_t at = v->first + first * sizeof(EventRecord);
    if (!file.read_at(at, buf.data(), n * sizeof(EventRecord))) {
      report("cannot read records at offset {}", hex(at));
      break;
    }
    for (size_t i = 0; i < n; ++i) {
      const EventRecord& e = buf[i];
      if ((e.flags & kEventLate) == 0) ++nonlate;
      if (!checker.ok(e, fmt::format("record {} at offset {}", first + i,
                                     hex(at + i * sizeof(EventRecord)))))
        continue;
      if (e.flags & kEventLate) ++tally.late;
      ++tally.from_file;
      visit(e, EventSource::file);
    }
  }
  checker.finish();
  tally.invalid += checker.bad();
  if (t.header_valid) {
    // A drain skips torn slots and counts records it cannot write as dropped, so only this
    // many drained records must be in the file.
    const SegmentHeader& h = t.header;
    uint64_t lost = h.events_torn + h.events_dropped;
    uint64_t must = h.ring_drained > lost ? h.ring_drained - lost : 0;
    if (nonlate < must)
      report("holds {} drained events, the segment says at least {} were written; {} missing",
             nonlate, must, must - nonlate);
  }
  return nonlate;
}

/// `skip`: undrained indices already in the events file (see read_events).
void read_ring_tail(const Trace& t, uint64_t skip, const EventVisitor& visit,
                    std::vector<Problem>& problems, EventTally& tally) {
  const SegmentHeader& h = t.header;
  if (h.ring_head <= h.ring_drained) return;
  Reporter report{problems, file_name(t.segment_path)};
  if (h.state & kStateRingReleased) {
    report("ring was released with {} undrained events", h.ring_head - h.ring_drained);
    return;
  }
  InputFile file(t.segment_path);
  if (!file.ok()) {
    report("cannot reopen: {}", file.error());
    return;
  }
  const uint64_t cap = h.ring.capacity;
  if (cap == 0 || (cap & (cap - 1)) != 0) {
    report("{} undrained events, but the ring capacity is {}; not read",
           h.ring_head - h.ring_drained, cap);
    return;
  }
  SectionView v =
      check_section("ring", h.ring, sizeof(EventRecord), h.header_size, file.size(), report);
  if (v.count < cap) {
    if (v.count > 0) report("ring tail not read: the ring section is cut short");
    return;
  }
  uint64_t from = h.ring_drained;
  if (h.ring_head - from > cap) {
    // The shim drops when full, so more undrained indices than slots means a bad header.
    report("{} undrained events exceed the ring capacity {}; only the last {} are read",
           h.ring_head - from, cap, cap);
    from = h.ring_head - cap;
  }
  from += std::min(skip, h.ring_head - from);
  EventChecker checker(report);
  std::vector<EventRecord> buf(static_cast<size_t>(std::min<uint64_t>(cap, kEventChunk)));
  for (uint64_t i = from; i < h.ring_head;) {
    // A run of consecutive slots, up to the ring's end.
    uint64_t slot = i & (cap - 1);
    uint64_t n = std::min<uint64_t>({buf.size(), h.ring_head - i, cap - slot});
    uint64_t at = v.offset + slot * sizeof(EventRecord);
    if (!file.read_at(at, buf.data(), n * sizeof(EventRecord))) {
      report("cannot read ring slots at offset {}", hex(at));
      return;
    }
    for (uint64_t k = 0; k < n; ++k, ++i) {
      const EventRecord& e = buf[k];
      if (e.commit != static_cast<uint32_t>(i + 1)) {
        ++tally.torn;
        continue;
      }
      if (!checker.ok(e, fmt::format("ring slot {} (index {}) at offset {}", slot + k, i,
                                     hex(at + k * sizeof(EventRecord)))))
        continue;
      if (e.flags & kEventLate) ++tally.late;
      ++tally.from_ring;
      visit(e, EventSource::ring);
    }
  }
  checker.finish();
  tally.invalid += checker.bad();
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
  if (events.empty() && t.header.ring_drained > 0)
    report("{} events were drained, but {}.vev is missing", t.header.ring_drained, t.name);
  return t;
}

EventTally read_events(const Trace& t, const EventVisitor& visit, std::vector<Problem>& problems) {
  EventTally tally;
  uint64_t drained_in_file = 0;
  if (!t.events_path.empty()) drained_in_file = read_file_events(t, visit, problems, tally);
  if (!t.header_valid) return tally;
  // A process killed between writing a drained batch and advancing ring_drained leaves that
  // batch both in the file and in the ring: more drained records in the file than
  // ring_drained (minus torn slots, never written) means the first undrained ones are copies.
  const SegmentHeader& h = t.header;
  uint64_t written_max = h.ring_drained > h.events_torn ? h.ring_drained - h.events_torn : 0;
  uint64_t skip = drained_in_file > written_max ? drained_in_file - written_max : 0;
  read_ring_tail(t, skip, visit, problems, tally);
  return tally;
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
