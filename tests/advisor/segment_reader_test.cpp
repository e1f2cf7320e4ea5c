// SPDX-License-Identifier: MIT
// The reader against synthetic traces: exact counts read back, and every kind of damage gives
// a diagnostic that names the file and the place, while the rest is still read.
#include "segment_reader.h"
#include "trace_builder.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <random>

#include <sys/stat.h>

using namespace valley;
using namespace valley::advisor;
using valley::testing::make_event;
using valley::testing::put;
using valley::testing::sample_trace;
using valley::testing::TempDir;
using valley::testing::TraceBuilder;
using valley::testing::write_file;

namespace {

struct Collected {
  std::vector<EventRecord> events;
  std::vector<EventSource> sources;
  EventTally tally;
  std::vector<Problem> problems;
};

Collected collect(const Trace& t) {
  Collected c;
  c.tally = read_events(
      t,
      [&](const EventRecord& e, EventSource s) {
        c.events.push_back(e);
        c.sources.push_back(s);
      },
      c.problems);
  return c;
}

std::string all_messages(const std::vector<Problem>& problems) {
  std::string out;
  for (const Problem& p : problems)
    out += p.file + ": " + p.message + "\n";
  return out;
}

bool has_problem(const std::vector<Problem>& problems, const std::string& file,
                 const std::string& text) {
  for (const Problem& p : problems)
    if (p.file == file && p.message.find(text) != std::string::npos) return true;
  return false;
}

#define EXPECT_PROBLEM(problems, file, text)                                                       \
  EXPECT_TRUE(has_problem(problems, file, text))                                                   \
      << "wanted " << file << ": ..." << text << "...\ngot:\n"                                     \
      << all_messages(problems)

class ReaderTest : public ::testing::Test {
protected:
  TempDir dir;
  std::filesystem::path seg(const TraceBuilder& b) { return dir.path() / (b.name() + ".vseg"); }
  std::filesystem::path ev(const TraceBuilder& b) { return dir.path() / (b.name() + ".vev"); }
  /// Writes `bad` next to a healthy trace of another process and reads the directory.
  RunDir read_beside_healthy(const TraceBuilder& bad, const std::string& segment_bytes) {
    sample_trace(77).write(dir.path());
    bad.write(dir.path());
    write_file(seg(bad), segment_bytes);
    return read_run_dir(dir.path());
  }
  static void expect_healthy(const Trace& t) {
    EXPECT_EQ(t.pid, 77u);
    EXPECT_TRUE(t.header_valid);
    EXPECT_TRUE(t.problems.empty()) << all_messages(t.problems);
    EXPECT_EQ(t.counters.size(), 3u);
    EXPECT_EQ(collect(t).tally.total(), 9u);
  }
};

TEST_F(ReaderTest, ReadsBackExactCounts) {
  TraceBuilder b = sample_trace();
  b.write(dir.path());
  Trace t = read_trace(seg(b), ev(b));
  ASSERT_TRUE(t.header_valid);
  EXPECT_TRUE(t.problems.empty()) << all_messages(t.problems);
  EXPECT_EQ(t.pid, 3410u);
  EXPECT_EQ(t.seq, 0u);
  ASSERT_EQ(t.counters.size(), 3u);
  EXPECT_EQ(t.counters[0].row, 0u);
  EXPECT_EQ(t.counters[0].data.key, kCatchAllKey);
  EXPECT_EQ(t.counters[1].row, 3u);
  EXPECT_EQ(t.counters[1].data.calls, 100u);
  EXPECT_EQ(t.counters[1].data.bytes, 800u);
  EXPECT_EQ(t.counters[1].data.gap_hist[bucket_of(4000)], 99u);
  EXPECT_EQ(t.counters[2].row, 9u);
  ASSERT_EQ(t.sites.size(), 2u);
  EXPECT_EQ(t.sites[0].id, 0u);
  EXPECT_EQ(t.sites[1].id, 5u);
  EXPECT_EQ(t.sites[1].data.caller, 0x555500001600u);
  ASSERT_EQ(t.stacks.size(), 2u);
  EXPECT_EQ(t.stacks[1].nframes, 3u);
  EXPECT_EQ(t.stacks[1].frames[2], 0x555500001700u);
  ASSERT_EQ(t.modules.size(), 2u);
  EXPECT_EQ(fixed_string(t.modules[1].path), "/nonexistent/lib/libc.so.6");
  ASSERT_EQ(t.files.size(), 2u);
  EXPECT_EQ(fixed_string(t.files[1].path), "pipe:[1234]");

  Collected c = collect(t);
  EXPECT_TRUE(c.problems.empty()) << all_messages(c.problems);
  EXPECT_EQ(c.tally.from_file, 7u);
  EXPECT_EQ(c.tally.from_ring, 2u);
  EXPECT_EQ(c.tally.torn, 1u);
  EXPECT_EQ(c.tally.late, 2u);
  EXPECT_EQ(c.tally.invalid, 0u);
  ASSERT_EQ(c.events.size(), 9u);
  // Ring order: drained, late, then the ring tail without its torn slot.
  EXPECT_EQ(c.events[0].ticks, 2000u);
  EXPECT_EQ(c.events[5].ticks, 3000u);
  EXPECT_TRUE(c.events[5].flags & kEventLate);
  EXPECT_EQ(c.events[7].ticks, 4000u);
  EXPECT_EQ(c.events[8].ticks, 4200u);
  EXPECT_EQ(c.sources[6], EventSource::file);
  EXPECT_EQ(c.sources[7], EventSource::ring);
  EXPECT_EQ(c.events[8].result, -11);
}

TEST_F(ReaderTest, RunDirSortsTracesAndReportsStrayFiles) {
  sample_trace(20).write(dir.path());
  TraceBuilder exec_image = sample_trace(20);
  exec_image.header.seq = 1;
  exec_image.write(dir.path());
  sample_trace(3).write(dir.path());
  write_file(dir.path() / "99-0.vev", "whatever");
  write_file(dir.path() / "notes.txt", "ignored");
  write_file(dir.path() / "x-y.vseg", "bad name");
  RunDir run = read_run_dir(dir.path());
  ASSERT_EQ(run.traces.size(), 3u);
  EXPECT_EQ(run.traces[0].name, "3-0");
  EXPECT_EQ(run.traces[1].name, "20-0");
  EXPECT_EQ(run.traces[2].name, "20-1");
  EXPECT_EQ(run.problems.size(), 2u) << all_messages(run.problems);
  EXPECT_PROBLEM(run.problems, "99-0.vev", "no matching .vseg");
  EXPECT_PROBLEM(run.problems, "x-y.vseg", "file name is not <pid>-<n>.vseg");
}

TEST_F(ReaderTest, MissingDirectoryThrows) {
  EXPECT_THROW(read_run_dir(dir.path() / "nope"), std::runtime_error);
}

TEST_F(ReaderTest, BadMagic) {
  TraceBuilder b = sample_trace();
  std::string bytes = b.segment();
  bytes[0] = 'X';
  RunDir run = read_beside_healthy(b, bytes);
  ASSERT_EQ(run.traces.size(), 2u);
  const Trace& t = run.traces[1];
  EXPECT_FALSE(t.header_valid);
  EXPECT_PROBLEM(t.problems, "3410-0.vseg", "bad magic at offset 0x0: not a valley segment");
  expect_healthy(run.traces[0]);
  // The events file is still read, on its own.
  EXPECT_EQ(collect(t).tally.from_file, 7u);
}

TEST_F(ReaderTest, NewerVersion) {
  TraceBuilder b = sample_trace();
  std::string bytes = b.segment();
  put<uint32_t>(bytes, offsetof(SegmentHeader, version), kFormatVersion + 1);
  RunDir run = read_beside_healthy(b, bytes);
  EXPECT_FALSE(run.traces[1].header_valid);
  EXPECT_PROBLEM(run.traces[1].problems, "3410-0.vseg",
                 fmt::format("written by a newer valley (format {}), this valley reads <= {}",
                             kFormatVersion + 1, kFormatVersion));
  expect_healthy(run.traces[0]);
}

// Format 2 (one shared ring) is not read by this valley: the problem names both versions.
TEST_F(ReaderTest, OlderVersionIsNamed) {
  TraceBuilder b = sample_trace();
  std::string bytes = b.segment();
  put<uint32_t>(bytes, offsetof(SegmentHeader, version), 2);
  RunDir run = read_beside_healthy(b, bytes);
  EXPECT_FALSE(run.traces[1].header_valid);
  EXPECT_PROBLEM(run.traces[1].problems, "3410-0.vseg",
                 fmt::format("written by an older valley (format 2), this valley reads format {}; not read",
                             kFormatVersion));
  expect_healthy(run.traces[0]);
}

TEST_F(ReaderTest, NewerVersionOfEventsFile) {
  TraceBuilder b = sample_trace();
  b.write(dir.path());
  std::string events = b.events();
  put<uint32_t>(events, offsetof(EventsHeader, version), kFormatVersion + 1);
  write_file(ev(b), events);
  Trace t = read_trace(seg(b), ev(b));
  Collected c = collect(t);
  EXPECT_PROBLEM(c.problems, "3410-0.vev", "written by a newer valley");
  EXPECT_EQ(c.tally.from_file, 0u);
  EXPECT_EQ(c.tally.from_ring, 2u) << "the ring tail does not depend on the events file";
}

TEST_F(ReaderTest, TruncatedHeader) {
  TraceBuilder b = sample_trace();
  RunDir run = read_beside_healthy(b, b.segment().substr(0, 100));
  EXPECT_FALSE(run.traces[1].header_valid);
  EXPECT_PROBLEM(run.traces[1].problems, "3410-0.vseg",
                 "truncated header: file is 100 bytes, header_size is 4096");
  RunDir tiny = read_beside_healthy(b, "VALL");
  EXPECT_PROBLEM(tiny.traces[1].problems, "3410-0.vseg", "truncated header: file is 4 bytes");
  expect_healthy(run.traces[0]);
}

TEST_F(ReaderTest, HeaderSizeTooSmall) {
  TraceBuilder b = sample_trace();
  std::string bytes = b.segment();
  put<uint32_t>(bytes, offsetof(SegmentHeader, header_size), 64);
  RunDir run = read_beside_healthy(b, bytes);
  EXPECT_FALSE(run.traces[1].header_valid);
  EXPECT_PROBLEM(run.traces[1].problems, "3410-0.vseg", "header_size 64 (offset 0xc)");
}

TEST_F(ReaderTest, SectionPastEndOfFile) {
  TraceBuilder b = sample_trace();
  std::string bytes = b.segment();
  // Cut the file inside the stacks section, after the first stack row.
  uint64_t stacks = b.section_offset(&SegmentHeader::stacks);
  bytes.resize(stacks + sizeof(StackRow) + 100);
  RunDir run = read_beside_healthy(b, bytes);
  const Trace& t = run.traces[1];
  ASSERT_TRUE(t.header_valid);
  EXPECT_PROBLEM(t.problems, "3410-0.vseg",
                 fmt::format("section 'stacks' at offset {:#x} extends past end of file (size "
                             "{}): 1 of 8 entries kept",
                             stacks, bytes.size()));
  EXPECT_PROBLEM(t.problems, "3410-0.vseg",
                 fmt::format("section 'modules' at offset {:#x} starts past end of file",
                             b.section_offset(&SegmentHeader::modules)));
  // What lies before the cut is still there.
  EXPECT_EQ(t.counters.size(), 3u);
  EXPECT_EQ(t.sites.size(), 2u);
  EXPECT_EQ(t.stacks.size(), 1u);
  EXPECT_TRUE(t.modules.empty());
  // The first stack survives; site 5's first stack is gone, so the reference is dropped.
  EXPECT_PROBLEM(t.problems, "3410-0.vseg", "sites[5]: first_stack 2 refers to no stored stack");
  EXPECT_EQ(t.sites[1].data.first_stack, 0u);
  expect_healthy(run.traces[0]);
}

TEST_F(ReaderTest, SectionOffsetOverflowDoesNotWrap) {
  TraceBuilder b = sample_trace();
  std::string bytes = b.segment();
  put<uint64_t>(bytes, offsetof(SegmentHeader, files) + offsetof(Section, offset),
                ~uint64_t{0} - 10);
  put<uint32_t>(bytes, offsetof(SegmentHeader, files) + offsetof(Section, capacity), 0xffffffff);
  write_file(seg(b), bytes);
  Trace t = read_trace(seg(b), {});
  EXPECT_PROBLEM(t.problems, "3410-0.vseg",
                 "section 'files' at offset 0xfffffffffffffff5 starts "
                 "past end of file");
  EXPECT_TRUE(t.files.empty());
}

TEST_F(ReaderTest, BadEntrySize) {
  TraceBuilder b = sample_trace();
  std::string bytes = b.segment();
  put<uint32_t>(bytes, offsetof(SegmentHeader, counters) + offsetof(Section, entry_size), 500);
  RunDir run = read_beside_healthy(b, bytes);
  const Trace& t = run.traces[1];
  EXPECT_PROBLEM(t.problems, "3410-0.vseg",
                 "section 'counters' has entry_size 500, this valley reads entries of 576 bytes; "
                 "section skipped");
  EXPECT_TRUE(t.counters.empty());
  EXPECT_EQ(t.sites.size(), 2u);
  EXPECT_EQ(collect(t).tally.total(), 9u);
}

TEST_F(ReaderTest, SectionOverlappingHeaderIsSkipped) {
  TraceBuilder b = sample_trace();
  std::string bytes = b.segment();
  put<uint64_t>(bytes, offsetof(SegmentHeader, sites) + offsetof(Section, offset), 64);
  write_file(seg(b), bytes);
  Trace t = read_trace(seg(b), {});
  EXPECT_PROBLEM(t.problems, "3410-0.vseg", "section 'sites' at offset 0x40 overlaps the header");
  EXPECT_TRUE(t.sites.empty());
}

TEST_F(ReaderTest, BadOpInCounterRow) {
  TraceBuilder b = sample_trace();
  CounterRow& bad = b.add_counter(4, 1, Op::write, FdKind::tty);
  bad.key = (uint64_t{2} << 16) | (uint64_t{99} << 8) | 1;
  b.write(dir.path());
  Trace t = read_trace(seg(b), ev(b));
  EXPECT_PROBLEM(t.problems, "3410-0.vseg",
                 "counters[4]: op 99 / fd kind 1 out of range (op 1..40, kind 0..22); row skipped");
  EXPECT_EQ(t.counters.size(), 3u);
}

TEST_F(ReaderTest, BadOpInEventRecord) {
  TraceBuilder b = sample_trace();
  b.drained[1].op = 0;
  b.drained[3].fd_kind = 200;
  b.write(dir.path());
  Collected c = collect(read_trace(seg(b), ev(b)));
  uint64_t rec1 = sizeof(EventsHeader) + sizeof(EventBlock) + sizeof(EventRecord);
  EXPECT_PROBLEM(c.problems, "3410-0.vev",
                 fmt::format("record 1 at offset {:#x}: op 0 / fd kind 1 out of range", rec1));
  EXPECT_PROBLEM(c.problems, "3410-0.vev", "record 3 at offset");
  EXPECT_EQ(c.tally.invalid, 2u);
  EXPECT_EQ(c.tally.from_file, 5u);
  EXPECT_EQ(c.tally.from_ring, 2u);
}

TEST_F(ReaderTest, BadOpInRingSlot) {
  TraceBuilder b = sample_trace();
  b.undrained[2].op = 77;
  b.write(dir.path());
  Collected c = collect(read_trace(seg(b), ev(b)));
  // Undrained index 5 + 2 = 7 sits in slot 7 of shard 0's 8 slots.
  uint64_t at = b.events_offset() + 7 * sizeof(EventRecord);
  EXPECT_PROBLEM(c.problems, "3410-0.vseg",
                 fmt::format("shard 0 slot 7 (index 7) at offset {:#x}: op 77", at));
  EXPECT_EQ(c.tally.from_ring, 1u);
}

TEST_F(ReaderTest, TruncatedEventsFileKeepsCompleteRecords) {
  TraceBuilder b = sample_trace();
  b.late.clear();
  b.write(dir.path());
  std::string events = b.events();
  events.resize(events.size() - 10);
  write_file(ev(b), events);
  Collected c = collect(read_trace(seg(b), ev(b)));
  uint64_t last = sizeof(EventsHeader) + sizeof(EventBlock) + 4 * sizeof(EventRecord);
  EXPECT_PROBLEM(c.problems, "3410-0.vev",
                 fmt::format("truncated record at offset {:#x}: {} of {} bytes; the records "
                             "before it are kept",
                             last, sizeof(EventRecord) - 10, sizeof(EventRecord)));
  EXPECT_PROBLEM(c.problems, "3410-0.vev", "1 missing");
  EXPECT_EQ(c.tally.from_file, 4u);
  EXPECT_EQ(c.tally.from_ring, 2u);
}

TEST_F(ReaderTest, EventsFileWithWrongRecordSize) {
  TraceBuilder b = sample_trace();
  b.write(dir.path());
  std::string events = b.events();
  put<uint32_t>(events, offsetof(EventsHeader, record_size), 56);
  write_file(ev(b), events);
  Collected c = collect(read_trace(seg(b), ev(b)));
  EXPECT_PROBLEM(c.problems, "3410-0.vev", "record_size 56 (offset 0x10)");
  EXPECT_EQ(c.tally.from_file, 0u);
}

TEST_F(ReaderTest, MissingEventsFileIsReported) {
  TraceBuilder b = sample_trace();
  b.events_file = false;
  b.write(dir.path());
  RunDir run = read_run_dir(dir.path());
  ASSERT_EQ(run.traces.size(), 1u);
  EXPECT_PROBLEM(run.traces[0].problems, "3410-0.vseg",
                 "5 events were drained, but 3410-0.vev is missing");
  EXPECT_EQ(collect(run.traces[0]).tally.from_ring, 2u);
}

TEST_F(ReaderTest, TornRingSlotsAreCountedNotDelivered) {
  TraceBuilder b(1);
  for (int i = 0; i < 6; ++i)
    b.undrained.push_back(make_event(Op::send, 5, FdKind::tcp, 10, 10, 2000 + i, 0));
  b.torn = {0, 2, 5};
  b.write(dir.path());
  Collected c = collect(read_trace(seg(b), ev(b)));
  EXPECT_TRUE(c.problems.empty()) << all_messages(c.problems);
  EXPECT_EQ(c.tally.torn, 3u);
  EXPECT_EQ(c.tally.from_ring, 3u);
  ASSERT_EQ(c.events.size(), 3u);
  EXPECT_EQ(c.events[0].ticks, 2001u);
  EXPECT_EQ(c.events[1].ticks, 2003u);
  EXPECT_EQ(c.events[2].ticks, 2004u);
}

// A slot a jump left behind becomes a tombstone (committed, op 0): counted as torn, never
// delivered, and the records after it still are.
TEST_F(ReaderTest, TombstonesAreCountedAsTornAndPassed) {
  TraceBuilder b(1);
  for (int i = 0; i < 3; ++i)
    b.undrained.push_back(make_event(Op::write, 1, FdKind::tty, 1, 1, 2000 + i, 0));
  b.undrained[1].op = 0;
  b.write(dir.path());
  Collected c = collect(read_trace(seg(b), ev(b)));
  EXPECT_TRUE(c.problems.empty()) << all_messages(c.problems);
  EXPECT_EQ(c.tally.torn, 1u);
  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_EQ(c.events[0].ticks, 2000u);
  EXPECT_EQ(c.events[1].ticks, 2002u);
}

// A thread killed while it held a run record (the coalescer's loop of identical writes): the
// record is in its ShardHeader, after the shard's other records.
TEST_F(ReaderTest, HeldRunRecordOfAKilledThreadIsRead) {
  TraceBuilder b(1);
  b.header.state = 0;
  b.undrained.push_back(make_event(Op::write, 3, FdKind::regular, 1, 1, 2000, 0));
  std::string bytes = b.segment();
  EventRecord run = make_event(Op::write, 3, FdKind::regular, 1, 1, 2100, 0);
  run.flags = kEventCoalesced | kEventRun;
  run.duration = 500; // calls
  run.offset = 2900;  // ticks of the last one
  run.commit = 0;
  const uint64_t sh = b.shard_offset(0);
  put<uint32_t>(bytes, sh + offsetof(ShardHeader, held), 1);
  bytes.replace(sh + offsetof(ShardHeader, run), sizeof run, reinterpret_cast<const char*>(&run), sizeof run);
  b.write(dir.path());
  write_file(seg(b), bytes);
  Collected c = collect(read_trace(seg(b), ev(b)));
  EXPECT_TRUE(c.problems.empty()) << all_messages(c.problems);
  ASSERT_FALSE(c.events.empty());
  const EventRecord& last = c.events.back();
  EXPECT_EQ(last.ticks, 2100u);
  EXPECT_EQ(last.flags, kEventCoalesced | kEventRun);
  EXPECT_EQ(event_calls(last), 500u);
  uint64_t writes = 0;
  for (const EventRecord& e : c.events) writes += e.op == static_cast<uint8_t>(Op::write);
  EXPECT_EQ(writes, 2u) << "the undrained write and the held run, once each";
}

TEST_F(ReaderTest, KilledProcessUndrainedRingIsRead) {
  // SIGKILL before the first drain: no .vev, state neither finished nor exec, every event
  // still in the ring.
  TraceBuilder b(1);
  b.header.state = 0;
  b.events_file = false;
  for (int i = 0; i < 6; ++i)
    b.undrained.push_back(make_event(Op::write, 1, FdKind::tty, 1, 1, 2000 + i, 0));
  b.write(dir.path());
  RunDir run = read_run_dir(dir.path());
  ASSERT_EQ(run.traces.size(), 1u);
  EXPECT_TRUE(run.traces[0].problems.empty()) << all_messages(run.traces[0].problems);
  Collected c = collect(run.traces[0]);
  EXPECT_TRUE(c.problems.empty()) << all_messages(c.problems);
  EXPECT_EQ(c.tally.from_file, 0u);
  EXPECT_EQ(c.tally.from_ring, 6u);
  ASSERT_EQ(c.events.size(), 6u);
  EXPECT_EQ(c.events[5].ticks, 2005u);
}

TEST_F(ReaderTest, RingTailWrapsAround) {
  // Indices 0..3 drained, 4..11 undrained in an 8-slot ring: slots 4..7 then 0..3.
  TraceBuilder b(1);
  b.header.state = 0;
  for (int i = 0; i < 4; ++i)
    b.drained.push_back(make_event(Op::write, 1, FdKind::tty, 1, 1, 1000 + i, 0));
  for (int i = 0; i < 8; ++i)
    b.undrained.push_back(make_event(Op::write, 1, FdKind::tty, 1, 1, 2000 + i, 0));
  b.write(dir.path());
  Collected c = collect(read_trace(seg(b), ev(b)));
  EXPECT_TRUE(c.problems.empty()) << all_messages(c.problems);
  EXPECT_EQ(c.tally.from_file, 4u);
  EXPECT_EQ(c.tally.from_ring, 8u);
  ASSERT_EQ(c.events.size(), 12u);
  for (size_t i = 4; i < 12; ++i)
    EXPECT_EQ(c.events[i].ticks, 2000 + i - 4);
}

TEST_F(ReaderTest, KilledMidDrainDoesNotDuplicate) {
  // The drain wrote indices 0..4 to the file but was killed before advancing `drained`
  // past 2: indices 2..4 are in both places and must be delivered once.
  TraceBuilder b(1);
  b.header.state = 0;
  for (int i = 0; i < 2; ++i)
    b.drained.push_back(make_event(Op::write, 1, FdKind::tty, 1, 1, 1000 + i, 0));
  for (int i = 0; i < 5; ++i)
    b.undrained.push_back(make_event(Op::write, 1, FdKind::tty, 1, 1, 1002 + i, 0));
  b.write(dir.path());
  TraceBuilder file_view = b;
  file_view.drained.insert(file_view.drained.end(), b.undrained.begin(), b.undrained.begin() + 3);
  write_file(ev(b), file_view.events());
  Collected c = collect(read_trace(seg(b), ev(b)));
  EXPECT_TRUE(c.problems.empty()) << all_messages(c.problems);
  ASSERT_EQ(c.events.size(), 7u);
  for (size_t i = 0; i < 7; ++i)
    EXPECT_EQ(c.events[i].ticks, 1000 + i);
}

TEST_F(ReaderTest, StringsWithoutNulAreCut) {
  TraceBuilder b = sample_trace();
  ModuleRow& m = b.modules[1];
  std::memset(m.path, 'a', sizeof m.path);
  std::memset(b.header.exe, 'b', sizeof b.header.exe);
  b.write(dir.path());
  Trace t = read_trace(seg(b), ev(b));
  EXPECT_PROBLEM(t.problems, "3410-0.vseg", "modules[1].path is not NUL-terminated");
  EXPECT_PROBLEM(t.problems, "3410-0.vseg", "header field 'exe' is not NUL-terminated");
  EXPECT_EQ(fixed_string(t.modules[1].path).size(), sizeof m.path - 1);
}

TEST_F(ReaderTest, CountsAreClamped) {
  TraceBuilder b = sample_trace();
  b.stacks[0].nframes = 1000;
  b.modules[0].build_id_len = 99;
  b.stacks[1].modules_seen = 50;
  std::string bytes = b.segment();
  put<uint32_t>(bytes, offsetof(SegmentHeader, stacks_used), 9);
  put<uint32_t>(bytes, offsetof(SegmentHeader, cmdline_len), 99999);
  write_file(seg(b), bytes);
  Trace t = read_trace(seg(b), {});
  EXPECT_PROBLEM(t.problems, "3410-0.vseg", "stacks_used is 9 but the section holds only 8");
  EXPECT_PROBLEM(t.problems, "3410-0.vseg", "stacks[0]: nframes 1000 exceeds 62; clamped");
  EXPECT_PROBLEM(t.problems, "3410-0.vseg", "modules[0]: build_id_len 99 exceeds 32; clamped");
  EXPECT_PROBLEM(t.problems, "3410-0.vseg", "stacks[1]: modules_seen 50 exceeds the 2 stored");
  EXPECT_PROBLEM(t.problems, "3410-0.vseg", "cmdline_len 99999 exceeds 2048; clamped");
  EXPECT_EQ(t.stacks.size(), 8u);
  EXPECT_EQ(t.stacks[0].nframes, kMaxFrames);
  EXPECT_EQ(t.modules[0].build_id_len, 32u);
  EXPECT_EQ(t.header.cmdline_len, kCmdlineMax);
}

TEST_F(ReaderTest, UndrainedBeyondCapacityIsClamped) {
  TraceBuilder b = sample_trace();
  std::string bytes = b.segment();
  put<uint64_t>(bytes, b.shard_offset(0) + offsetof(ShardHeader, head), 1'000'000);
  write_file(seg(b), bytes);
  Collected c = collect(read_trace(seg(b), {}));
  EXPECT_PROBLEM(c.problems, "3410-0.vseg", "shard 0: 999995 undrained events exceed its 8 slots; only the last 8");
  EXPECT_EQ(c.tally.from_ring + c.tally.torn, 8u);
}

TEST_F(ReaderTest, FifoNamedLikeATraceDoesNotHang) {
  ASSERT_EQ(::mkfifo((dir.path() / "5-0.vseg").c_str(), 0600), 0);
  RunDir run = read_run_dir(dir.path());
  ASSERT_EQ(run.traces.size(), 1u);
  EXPECT_PROBLEM(run.traces[0].problems, "5-0.vseg", "cannot open: not a regular file");
}

// Random damage must never crash or trip the sanitizers; run this under ASan/UBSan.
TEST_F(ReaderTest, RandomCorruptionNeverCrashes) {
  TraceBuilder b = sample_trace();
  const std::string good_seg = b.segment(), good_ev = b.events();
  std::mt19937_64 rng(12345);
  for (int round = 0; round < 400; ++round) {
    std::string s = good_seg, e = good_ev;
    int flips = 1 + static_cast<int>(rng() % 16);
    for (int i = 0; i < flips; ++i) {
      // Mostly the header, where offsets and counts live.
      size_t at = rng() % 3 ? rng() % 700 : rng() % s.size();
      s[at] = static_cast<char>(rng());
      e[rng() % e.size()] = static_cast<char>(rng());
    }
    if (rng() % 4 == 0) s.resize(rng() % s.size());
    if (rng() % 4 == 0) e.resize(rng() % e.size());
    write_file(seg(b), s);
    write_file(ev(b), e);
    Trace t = read_trace(seg(b), ev(b));
    uint64_t seen = 0;
    std::vector<Problem> problems;
    read_events(
        t, [&](const EventRecord&, EventSource) { ++seen; }, problems);
    EXPECT_LE(seen, 7u + 8u);
  }
}

} // namespace

// A run record (kEventRun) is the calls it stands for, evenly spread from its first to its last
// time; any other record is itself.
TEST(ForEachCall, ExpandsRunsAndPassesOthersThrough) {
  EventRecord run{};
  run.ticks = 100;
  run.offset = 500; // a run's last call
  run.duration = 5; // a run's call count
  run.size = 1;
  run.result = 1;
  run.flags = kEventCoalesced | kEventRun;
  std::vector<EventRecord> got;
  for_each_call(run, [&](const EventRecord& e) { got.push_back(e); });
  ASSERT_EQ(got.size(), 5u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].ticks, 100 + 100 * i);
    EXPECT_EQ(got[i].flags, kEventCoalesced);
    EXPECT_EQ(got[i].offset, -1);
    EXPECT_EQ(got[i].duration, 0u);
    EXPECT_EQ(got[i].size, 1u);
  }
  EventRecord single{};
  single.ticks = 7;
  single.offset = 4096;
  single.duration = 9;
  single.flags = kEventCoalesced;
  got.clear();
  for_each_call(single, [&](const EventRecord& e) { got.push_back(e); });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].offset, 4096);
  EXPECT_EQ(got[0].duration, 9u);
  EXPECT_EQ(event_calls(single), 1u);
  EXPECT_EQ(event_calls(run), 5u);
  EXPECT_EQ(event_last_ticks(run), 500u);
}
