// SPDX-License-Identifier: MIT
/// @file trace_builder.cpp
/// @brief Synthetic traces laid out as format.h says: header, shard headers, counters, sites,
/// stacks, modules, files, then shard 0's body (counter rows, event buffer).
#include "trace_builder.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace valley::testing {
namespace fs = std::filesystem;

namespace {

template <size_t N> void copy_string(char (&dst)[N], const std::string& src) {
  std::memset(dst, 0, N);
  std::memcpy(dst, src.data(), std::min(src.size(), N - 1));
}

} // namespace

TraceBuilder::TraceBuilder(uint32_t pid, uint32_t seq) {
  SegmentHeader& h = header;
  std::memcpy(h.magic, kSegmentMagic, sizeof h.magic);
  h.version = kFormatVersion;
  h.header_size = sizeof(SegmentHeader);
  h.pid = pid;
  h.ppid = 1;
  h.seq = seq;
  h.origin = Origin::start;
  h.proc_start_ticks = 5000 + pid;
  h.start_realtime_ns = 1'700'000'000'000'000'000;
  h.clock = ClockKind::tsc;
  h.state = kStateFinished;
  h.calib_ticks0 = 1000;
  h.calib_ns0 = 0;
  h.calib_ticks1 = 1000 + 2'000'000;
  h.calib_ns1 = 1'000'000;
  h.start_ticks = 1000;
  h.end_ticks = 1000 + 2'000'000;
  h.stack_sample = 1000;
  copy_string(h.exe, "/usr/bin/victim");
  set_cmdline({"victim", "--flag", "two words"});
}

CounterRow& TraceBuilder::add_counter(uint32_t row, uint32_t site, Op op, FdKind kind) {
  CounterRow r{};
  r.key = counter_key(site, op, kind);
  counters.emplace_back(row, r);
  return counters.back().second;
}

SiteRow& TraceBuilder::add_site(uint32_t id, uint64_t return_address, uint32_t first_stack) {
  SiteRow r{};
  r.key = return_address;
  r.return_address = return_address;
  r.flags = kSiteReady;
  r.first_stack = first_stack;
  sites.emplace_back(id, r);
  return sites.back().second;
}

StackRow& TraceBuilder::add_stack(uint32_t site, std::vector<uint64_t> frames) {
  StackRow s{};
  s.site = site;
  s.nframes = static_cast<uint32_t>(std::min<size_t>(frames.size(), kMaxFrames));
  s.hits = 1;
  s.modules_seen = static_cast<uint32_t>(modules.size());
  std::copy_n(frames.begin(), s.nframes, s.frames);
  stacks.push_back(s);
  return stacks.back();
}

ModuleRow& TraceBuilder::add_module(const std::string& path, uint64_t bias, uint64_t lo,
                                    uint64_t hi) {
  ModuleRow m{};
  m.bias = bias;
  m.lo = lo;
  m.hi = hi;
  copy_string(m.path, path);
  modules.push_back(m);
  return modules.back();
}

FileRow& TraceBuilder::add_file(int fd, FdKind kind, const std::string& path) {
  FileRow f{};
  f.fd = fd;
  f.kind = static_cast<uint8_t>(kind);
  f.first_ticks = header.start_ticks;
  copy_string(f.path, path);
  files.push_back(f);
  return files.back();
}

void TraceBuilder::set_cmdline(const std::vector<std::string>& argv) {
  std::string joined;
  for (const std::string& a : argv)
    joined += a + '\0';
  std::memset(header.cmdline, 0, sizeof header.cmdline);
  size_t n = std::min(joined.size(), sizeof header.cmdline);
  std::memcpy(header.cmdline, joined.data(), n);
  header.cmdline_len = static_cast<uint32_t>(n);
}

std::string TraceBuilder::name() const {
  return std::to_string(header.pid) + "-" + std::to_string(header.seq);
}

uint64_t TraceBuilder::section_offset(const Section SegmentHeader::*which) const {
  uint64_t off = sizeof(SegmentHeader);
  const std::pair<const Section SegmentHeader::*, uint64_t> order[] = {
      {&SegmentHeader::shards, uint64_t{kShards} * sizeof(ShardHeader)},
      {&SegmentHeader::counters, uint64_t{counter_capacity} * sizeof(CounterRow)},
      {&SegmentHeader::sites, uint64_t{site_capacity} * sizeof(SiteRow)},
      {&SegmentHeader::stacks, uint64_t{stack_capacity} * sizeof(StackRow)},
      {&SegmentHeader::modules, uint64_t{module_capacity} * sizeof(ModuleRow)},
      {&SegmentHeader::files, uint64_t{file_capacity} * sizeof(FileRow)},
  };
  for (const auto& [member, bytes] : order) {
    if (member == which) return off;
    off += bytes;
  }
  return off; // the shard bodies
}

uint64_t TraceBuilder::bodies_offset() const { return section_offset(nullptr); }
uint64_t TraceBuilder::events_offset() const {
  return bodies_offset() + uint64_t{kShardCounters} * sizeof(CounterRow);
}
uint64_t TraceBuilder::shard_offset(uint32_t i) const {
  return section_offset(&SegmentHeader::shards) + uint64_t{i} * sizeof(ShardHeader);
}

std::string TraceBuilder::segment() const {
  SegmentHeader h = header;
  auto section = [&](Section SegmentHeader::*member, uint32_t cap, uint32_t entry) {
    h.*member = Section{section_offset(member), cap, entry};
  };
  section(&SegmentHeader::shards, kShards, sizeof(ShardHeader));
  section(&SegmentHeader::counters, counter_capacity, sizeof(CounterRow));
  section(&SegmentHeader::sites, site_capacity, sizeof(SiteRow));
  section(&SegmentHeader::stacks, stack_capacity, sizeof(StackRow));
  section(&SegmentHeader::modules, module_capacity, sizeof(ModuleRow));
  section(&SegmentHeader::files, file_capacity, sizeof(FileRow));
  h.bodies_offset = bodies_offset();
  h.body_counters = kShardCounters;
  h.body_events_offset = kShardCounters * sizeof(CounterRow);
  h.body_events = ring_capacity;
  h.body_size = h.body_events_offset + ring_capacity * static_cast<uint32_t>(sizeof(EventRecord));
  h.counters_used = static_cast<uint32_t>(counters.size());
  h.sites_used = static_cast<uint32_t>(sites.size());
  h.stacks_used = static_cast<uint32_t>(stacks.size());
  h.modules_used = static_cast<uint32_t>(modules.size());
  h.files_used = static_cast<uint32_t>(files.size());
  h.shards_used = 1;
  h.events_late = late.size();
  uint64_t size = bodies_offset() + h.body_size;
  h.segment_size = bodies_offset() + uint64_t{kShards} * h.body_size;

  std::string out(size, '\0');
  put(out, 0, h);
  ShardHeader s0{};
  s0.tid = 4242;
  s0.state = kShardReserved;
  s0.drained = drained.size();
  s0.head = drained.size() + undrained.size();
  put(out, shard_offset(0), s0);
  auto rows = [&](auto& list, uint64_t at) {
    for (const auto& [index, row] : list)
      put(out, at + index * sizeof(row), row);
  };
  rows(counters, section_offset(&SegmentHeader::counters));
  rows(sites, section_offset(&SegmentHeader::sites));
  rows(shard_counters, bodies_offset());
  auto dense = [&](auto& list, Section SegmentHeader::*member) {
    for (size_t i = 0; i < list.size(); ++i)
      put(out, section_offset(member) + i * sizeof(list[i]), list[i]);
  };
  dense(stacks, &SegmentHeader::stacks);
  dense(modules, &SegmentHeader::modules);
  dense(files, &SegmentHeader::files);
  // The buffer as the shim leaves it: drained slots still hold their (stale, committed) records.
  uint64_t index = 0;
  auto slot = [&](EventRecord e, bool commit) {
    e.commit = commit ? static_cast<uint32_t>(index + 1) : 0;
    if (ring_capacity) put(out, events_offset() + (index % ring_capacity) * sizeof(EventRecord), e);
    ++index;
  };
  for (const EventRecord& e : drained)
    slot(e, true);
  for (size_t i = 0; i < undrained.size(); ++i)
    slot(undrained[i], torn.count(i) == 0);
  return out;
}

std::string TraceBuilder::events() const {
  EventsHeader eh{};
  std::memcpy(eh.magic, kEventsMagic, sizeof eh.magic);
  eh.version = kFormatVersion;
  eh.header_size = sizeof(EventsHeader);
  eh.record_size = sizeof(EventRecord);
  eh.pid = header.pid;
  eh.seq = header.seq;
  std::string out(sizeof eh, '\0');
  put(out, 0, eh);
  auto block = [&](uint32_t shard, size_t count) {
    EventBlock b{};
    b.magic = kBlockMagic;
    b.shard = shard;
    b.count = static_cast<uint32_t>(count);
    b.tid = 4242;
    out.append(reinterpret_cast<const char*>(&b), sizeof b);
  };
  if (!drained.empty()) block(0, drained.size());
  uint64_t index = 0;
  for (EventRecord e : drained) {
    e.commit = static_cast<uint32_t>(++index);
    out.append(reinterpret_cast<const char*>(&e), sizeof e);
  }
  if (!late.empty()) block(kBlockDirect, late.size());
  for (EventRecord e : late) {
    e.flags |= kEventLate;
    e.commit = 0;
    out.append(reinterpret_cast<const char*>(&e), sizeof e);
  }
  return out;
}

void TraceBuilder::write(const fs::path& dir) const {
  write_file(dir / (name() + ".vseg"), segment());
  if (events_file) write_file(dir / (name() + ".vev"), events());
}

TraceBuilder sample_trace(uint32_t pid) {
  TraceBuilder b(pid);
  b.add_module("/nonexistent/bin/victim", 0x555500000000, 0x555500000000, 0x555500010000).is_main =
      1;
  b.add_module("/nonexistent/lib/libc.so.6", 0x7f0000000000, 0x7f0000000000, 0x7f0000200000);
  b.add_stack(0, {0x555500001234, 0x555500001500});
  b.add_stack(5, {0x7f0000001000, 0x555500001600, 0x555500001700});
  b.add_site(0, 0x555500001234, 1);
  SiteRow& split = b.add_site(5, 0x7f0000001000, 2);
  split.flags |= kSiteSplit;
  split.caller = 0x555500001600;
  CounterRow& c = b.add_counter(3, 0, Op::write, FdKind::regular);
  c.calls = 100;
  c.bytes = 800;
  c.requested = 800;
  c.ticks = 20000;
  c.size_hist[bucket_of(8)] = 100;
  c.gap_hist[0] = 1;
  c.gap_hist[bucket_of(4000)] = 99;
  c.last_file = 1;
  b.add_counter(9, 5, Op::read, FdKind::pipe).calls = 7;
  CounterRow catch_all{};
  catch_all.key = kCatchAllKey;
  catch_all.calls = 2;
  b.counters.emplace_back(0, catch_all);
  b.add_file(3, FdKind::regular, "/tmp/out.csv");
  b.add_file(0, FdKind::pipe, "pipe:[1234]");
  for (int i = 0; i < 5; ++i)
    b.drained.push_back(make_event(Op::write, 3, FdKind::regular, 8, 8, 2000 + 100 * i, 0));
  b.late.push_back(make_event(Op::write, 3, FdKind::regular, 8, 8, 3000, 0));
  b.late.push_back(make_event(Op::write, 3, FdKind::regular, 8, 8, 3100, 0));
  for (int i = 0; i < 3; ++i)
    b.undrained.push_back(make_event(Op::read, 0, FdKind::pipe, 64, -11, 4000 + 100 * i, 5));
  b.torn.insert(1);
  return b;
}

EventRecord make_event(Op op, int fd, FdKind kind, uint32_t size, int64_t result, uint64_t ticks,
                       uint32_t site) {
  EventRecord e{};
  e.tid = 4242;
  e.ticks = ticks;
  e.result = result;
  e.offset = -1;
  e.size = size;
  e.duration = 200;
  e.fd = fd;
  e.site = site;
  e.op = static_cast<uint8_t>(op);
  e.fd_kind = static_cast<uint8_t>(kind);
  return e;
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

std::string read_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "valley-test-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

} // namespace valley::testing
