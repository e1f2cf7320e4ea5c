// SPDX-License-Identifier: MIT
// Issue 11's advice on calls written out in the test: costs apart from waiting, Nagle stalls
// ranked by wall time, syncs per write, buffering bounded by what the program tolerates, and
// blind spots that name their cause.
#include "event_model.h"
#include "report.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace valley;
using namespace valley::advisor;
using valley::testing::EventModel;

namespace {

constexpr uint64_t kMs = 1'000'000; // ticks are nanoseconds here

const Finding* find(const std::vector<Finding>& fs, const std::string& rule) {
  for (const Finding& f : fs)
    if (f.rule == rule) return &f;
  return nullptr;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// A client on TCP fd 4: per request a header and a body send (or one send), then a recv that
// waits `wait(i)` ns for the answer.
struct Client {
  EventModel em;
  int header, body, answer;
  uint64_t t = 1000;
  Client() {
    header = em.site(Op::send, FdKind::tcp, "header");
    body = em.site(Op::send, FdKind::tcp, "body");
    answer = em.site(Op::recv, FdKind::tcp, "answer");
  }
  void request(bool two, uint64_t wait) {
    em.call(header, 4, 64, 64, t += 10'000, 3000);
    if (two) em.call(body, 4, 200, 200, t += 10'000, 1000);
    em.call(answer, 4, 16, 16, t += 10'000, static_cast<uint32_t>(wait));
    t += wait;
  }
};

} // namespace

// ---- costs ----

// Every recv of a request/response client waits for its answer: its own durations say nothing
// about the kernel's work. The sends on that kind of fd bound it, and the waiting is not work.
TEST(Costs, WaitingIsNotCountedAsTheCostOfACall) {
  Client c;
  for (int i = 0; i < 100; ++i)
    c.request(false, 2 * kMs);
  RunModel m = c.em.model();
  const SiteAgg& answer = *m.by_id(static_cast<size_t>(c.answer));
  EXPECT_LE(answer.cost_ns, 3500); // at most the sends' 25th percentile (3000 ns, one bucket up)
  EXPECT_GT(answer.wait_ns, 0.99 * 100 * 2 * kMs);
  EXPECT_NEAR(answer.time_ns, answer.wait_ns + answer.cost_ns * 100, 1);
}

// On a file the median call is the cost; a few slow calls (a journal commit) do not move it.
TEST(Costs, FileCallsCostTheirMedian) {
  EventModel em;
  const int w = em.site(Op::write, FdKind::regular, "w");
  for (int i = 0; i < 1000; ++i)
    em.call(w, 3, 10, 10, 1000 + 2000 * static_cast<uint64_t>(i), i % 50 == 0 ? 1'000'000 : 800);
  RunModel m = em.model();
  const SiteAgg& a = *m.by_id(static_cast<size_t>(w));
  EXPECT_NEAR(a.cost_ns, 800, 800 * 0.1);
  EXPECT_TRUE(a.cost_from_events);
}

TEST(Costs, DurationQuantilesAreWithinTenPercent) {
  DurationHist h;
  for (int i = 1; i <= 1000; ++i)
    h.add(1000.0 * i);
  for (double q : {0.1, 0.25, 0.5, 0.9}) {
    const double want = 1e6 * q;
    EXPECT_NEAR(h.quantile(q), want, want * 0.1) << q;
  }
  EXPECT_EQ(DurationHist{}.quantile(0.5), 0);
}

// ---- Nagle ----

// Header and body, then a 40 ms stall before every answer but the first (a new connection
// acknowledges at once): the stall is found, measured against the first, and ranks above a
// site with many more syscalls to save.
TEST(NagleStall, StallIsMeasuredAgainstTheBurstsThatDidNotStallAndRanksFirst) {
  Client c;
  c.request(true, 100'000);
  for (int i = 1; i < 50; ++i)
    c.request(true, 40 * kMs + 100'000);
  const int log = c.em.site(Op::write, FdKind::regular, "log");
  for (int i = 0; i < 20000; ++i)
    c.em.call(log, 5, 8, 8, c.t += 1000, 500);
  RunModel m = c.em.model();
  std::vector<Finding> fs = evaluate_rules(m, c.em.s);
  ASSERT_GE(fs.size(), 2u);
  EXPECT_EQ(fs[0].rule, "nagle-stall");
  EXPECT_EQ(fs[1].rule, "small-writes");
  const Finding& f = fs[0];
  EXPECT_EQ(f.site->key, "header");
  ASSERT_EQ(f.related.size(), 1u);
  EXPECT_EQ(f.related[0]->key, "body");
  EXPECT_NEAR(f.saved_wait_ns, 49 * 40 * kMs, 49 * 40 * kMs * 0.05);
  EXPECT_EQ(f.before, 100u);
  EXPECT_DOUBLE_EQ(f.after, 50);
  EXPECT_TRUE(contains(f.change, "writev"));
  EXPECT_LT(f.change.find("MSG_MORE"), f.change.find("TCP_CORK"));
  EXPECT_LT(f.change.find("TCP_CORK"), f.change.find("TCP_NODELAY"));
  EXPECT_TRUE(contains(f.change, "valley run --config"));
  EXPECT_EQ(f.severity, "high");
  bool inferred = false;
  for (const std::string& n : f.notes)
    inferred = inferred || contains(n, "inferred from the waits");
  EXPECT_TRUE(inferred);
  // The emitted config coalesces both sends of the burst on TCP.
  const std::string cfg = coalesce_config({fs[0]}, c.em.s);
  EXPECT_TRUE(contains(cfg, "kinds = [\"tcp\"]")) << cfg;
  EXPECT_TRUE(contains(cfg, "sites = [\"victim+0x1000\", \"victim+0x1010\"]")) << cfg;
}

// A server that reads each body from a file between the header and the body send (Python's
// http.server): a read of a regular file leaves the coalescer's buffer alone (B-19), so the
// coalescer can still join the two sends and the config names the socket. One that reads a
// pipe between them (a poll, a read of a socket would do the same) cannot be fixed by the
// coalescer: neither advised nor emitted.
TEST(NagleStall, SendsApartAreLeftOutOnlyWhenTheCallBetweenFlushes) {
  for (const FdKind between : {FdKind::regular, FdKind::pipe}) {
    SCOPED_TRACE(fd_kind_name(between));
    Client c;
    const int other = c.em.site(Op::read, between, "between");
    for (int i = 0; i < 50; ++i) {
      c.em.call(c.header, 4, 64, 64, c.t += 10'000, 3000);
      c.em.call(other, 6, 200, 200, c.t += 10'000, 1000);
      c.em.call(c.body, 4, 200, 200, c.t += 10'000, 1000);
      c.em.call(c.answer, 4, 16, 16, c.t += 10'000, static_cast<uint32_t>(40 * kMs));
      c.t += 40 * kMs;
    }
    RunModel m = c.em.model();
    std::vector<Finding> fs = evaluate_rules(m, c.em.s);
    ASSERT_FALSE(fs.empty());
    const Finding& f = fs[0];
    EXPECT_EQ(f.rule, "nagle-stall");
    EXPECT_NEAR(f.saved_wait_ns, 50 * 40 * kMs, 50 * 40 * kMs * 0.05);
    const bool file = between == FdKind::regular;
    EXPECT_EQ(f.coalescible, file);
    EXPECT_EQ(contains(f.change, "valley run --config"), file) << f.change;
    EXPECT_EQ(contains(f.change, "cannot fix the binary as it is: in 50 of these bursts"), !file)
        << f.change;
    EXPECT_EQ(contains(coalesce_config({f}, c.em.s), "kinds = [\"tcp\"]"), file);
  }
}

// Single sends of the same site are the baseline when there are some: their answers take 5 ms
// (a slow server), and only the 40 ms beyond that is the stall.
TEST(NagleStall, SingleSendsAreTheBaseline) {
  Client c;
  for (int i = 0; i < 20; ++i)
    c.request(false, 5 * kMs);
  for (int i = 0; i < 20; ++i)
    c.request(true, 45 * kMs);
  RunModel m = c.em.model();
  std::vector<Finding> fs = evaluate_rules(m, c.em.s);
  ASSERT_FALSE(fs.empty());
  EXPECT_EQ(fs[0].rule, "nagle-stall");
  EXPECT_NEAR(fs[0].saved_wait_ns, 20 * 40 * kMs, 20 * 40 * kMs * 0.05);
}

// Every burst stalled and the server takes 100 ms: only one delayed ACK per burst is the stall.
TEST(NagleStall, WhenEveryBurstStalledOneDelayedAckIsTheStall) {
  Client c;
  for (int i = 0; i < 20; ++i)
    c.request(true, 140 * kMs);
  RunModel m = c.em.model();
  std::vector<Finding> fs = evaluate_rules(m, c.em.s);
  ASSERT_FALSE(fs.empty());
  EXPECT_EQ(fs[0].rule, "nagle-stall");
  EXPECT_NEAR(fs[0].saved_wait_ns, 20 * 40 * kMs, 20 * 40 * kMs * 0.05);
}

// The shim recorded TCP_NODELAY on the socket: a slow answer is the server's, not a stall.
TEST(NagleStall, QuietWhenNodelayIsSet) {
  Client c;
  c.em.file(4, FdKind::tcp, "socket:[7]", 0, 0x81);
  c.request(true, 100'000);
  for (int i = 1; i < 50; ++i)
    c.request(true, 40 * kMs);
  RunModel m = c.em.model();
  std::vector<Finding> fs = evaluate_rules(m, c.em.s);
  EXPECT_EQ(find(fs, "nagle-stall"), nullptr);
}

// Fast answers after every burst (loopback, no stall): nothing to find.
TEST(NagleStall, QuietWithoutStalls) {
  Client c;
  for (int i = 0; i < 200; ++i)
    c.request(true, 50'000);
  RunModel m = c.em.model();
  std::vector<Finding> fs = evaluate_rules(m, c.em.s);
  EXPECT_EQ(find(fs, "nagle-stall"), nullptr);
  ASSERT_NE(find(fs, "write-gather"), nullptr); // still two sends where one would do
}

// ---- syncs ----

// sqlite3 without a transaction: per row a journal opened, written, synced, deleted, then the
// database written and synced. Grouping 100 rows per sync saves the syncs' measured time.
TEST(SyncPerWrite, ASyncPerStatementIsGroupedWithTheMeasuredSyncTime) {
  EventModel em;
  const int open = em.site(Op::open, FdKind::regular, "open");
  const int jw = em.site(Op::pwrite64, FdKind::regular, "journal_write");
  const int dw = em.site(Op::pwrite64, FdKind::regular, "db_write");
  const int sync = em.site(Op::fdatasync, FdKind::regular, "unixSync");
  const int close = em.site(Op::close, FdKind::regular, "close");
  const int unlink = em.site(Op::unlink, FdKind::unknown, "unlink");
  const uint32_t db_row = em.file(3, FdKind::regular, "/data/t.db");
  (void)db_row;
  uint64_t t = 1000;
  for (int row = 0; row < 200; ++row) {
    const uint32_t journal = em.file(4, FdKind::regular, "/data/t.db-journal", t += 10);
    em.call(open, 4, 0, 4, t += 10, 5000);
    em.call(jw, 4, 512, 512, t += 10'000, 2000, 0);
    em.call(sync, 4, 0, 0, t += 10'000, 2'000'000);
    em.call(dw, 3, 4096, 4096, t += 2'010'000, 3000, 4096);
    em.call(sync, 3, 0, 0, t += 10'000, 3'000'000);
    em.call(close, 4, 0, 0, t += 3'010'000, 1000);
    EventRecord& u = em.call(unlink, -1, 0, 0, t += 10'000, 20'000);
    u.offset = journal;
  }
  RunModel m = em.model();
  std::vector<Finding> fs = evaluate_rules(m, em.s);
  const Finding* f = find(fs, "sync-per-write");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->before, 400u);
  EXPECT_DOUBLE_EQ(f->after, 4);
  // 400 syncs of 2.5 ms on average; 396 of them go.
  EXPECT_NEAR(f->saved_wait_ns, 396 * 2.5e6, 1);
  EXPECT_TRUE(contains(f->summary, "/data/t.db-journal was created and deleted 200 times"))
      << f->summary;
  EXPECT_TRUE(contains(f->idiom, "BEGIN")) << f->idiom;
  EXPECT_EQ(fs[0].rule, "sync-per-write") << "the biggest wall-time saving ranks first";
}

// One sync per thousand writes is already grouped.
TEST(SyncPerWrite, QuietWhenEachSyncCoversManyWrites) {
  EventModel em;
  const int w = em.site(Op::write, FdKind::regular, "w");
  const int sync = em.site(Op::fsync, FdKind::regular, "sync");
  uint64_t t = 1000;
  for (int batch = 0; batch < 50; ++batch) {
    for (int i = 0; i < 1000; ++i)
      em.call(w, 3, 100, 100, t += 1000);
    em.call(sync, 3, 0, 0, t += 1000, 1'000'000);
  }
  RunModel m = em.model();
  EXPECT_EQ(find(evaluate_rules(m, em.s), "sync-per-write"), nullptr);
}

// ---- by design ----

// One batch of writes per event-loop iteration, iterations 1 s apart: buffering may merge a
// batch, but no byte waits longer than the age bound, never across the pause ("data waits up
// to 1.02 s" was the replay holding the last batch until the next one).
TEST(ByDesign, BufferingNeverHoldsBytesAcrossThePauseBetweenBatches) {
  EventModel em;
  const int w = em.site(Op::write, FdKind::regular, "aof_write");
  uint64_t t = 1000;
  for (int iteration = 0; iteration < 30; ++iteration) {
    for (int i = 0; i < 20; ++i)
      em.call(w, 3, 40, 40, t += 5000);
    t += 1000 * kMs;
  }
  RunModel m = em.model();
  std::vector<Finding> fs = evaluate_rules(m, em.s);
  const Finding* f = find(fs, "small-writes");
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->replay);
  EXPECT_LE(f->replay->max_delay_ns, 5.0 * kMs);
  EXPECT_DOUBLE_EQ(f->after, 30); // one write per batch
  EXPECT_TRUE(contains(f->change, "at most 5 ms")) << f->change;
}

// The same with the file synced after every batch (redis' appendfsync): the sync writes the
// buffer first, and the finding says the program syncs.
TEST(ByDesign, SyncsOfTheFileBoundTheBuffering) {
  EventModel em;
  const int w = em.site(Op::write, FdKind::regular, "aof_write");
  const int sync = em.site(Op::fdatasync, FdKind::regular, "aof_sync");
  uint64_t t = 1000;
  for (int iteration = 0; iteration < 30; ++iteration) {
    for (int i = 0; i < 20; ++i)
      em.call(w, 3, 40, 40, t += 5000);
    em.call(sync, 3, 0, 0, t += 1000 * kMs, 500'000);
  }
  RunModel m = em.model();
  std::vector<Finding> fs = evaluate_rules(m, em.s);
  const Finding* f = find(fs, "small-writes");
  ASSERT_NE(f, nullptr);
  EXPECT_DOUBLE_EQ(f->after, 30);
  EXPECT_TRUE(contains(f->change, "sync of the fd")) << f->change;
  bool names_syncs = false;
  for (const std::string& n : f->notes)
    names_syncs = names_syncs || contains(n, "syncs this file about every");
  EXPECT_TRUE(names_syncs) << ::testing::PrintToString(f->notes);
}

// A write per iteration, iterations 1 s apart: already one write per batch, nothing to say.
TEST(ByDesign, OneWritePerIterationIsNoFinding) {
  EventModel em;
  const int w = em.site(Op::write, FdKind::regular, "heartbeat");
  for (int i = 0; i < 300; ++i)
    em.call(w, 3, 40, 40, 1000 + 1000 * kMs * static_cast<uint64_t>(i));
  RunModel m = em.model();
  EXPECT_EQ(find(evaluate_rules(m, em.s), "small-writes"), nullptr);
}

// ---- blind spots ----

namespace {

ProcessSummary process(int n, uint64_t kr, uint64_t kw, uint64_t sr, uint64_t sw) {
  ProcessSummary p;
  p.name = std::to_string(1000 + n) + "-0";
  p.pid = static_cast<uint32_t>(1000 + n);
  p.program = "cc1";
  p.readable = p.coverage_valid = true;
  p.kernel_reads = kr, p.kernel_writes = kw, p.seen_reads = sr, p.seen_writes = sw;
  return p;
}

size_t count_with(const std::vector<std::string>& lines, const std::string& part) {
  size_t n = 0;
  for (const std::string& l : lines)
    n += contains(l, part);
  return n;
}

} // namespace

// make -j2: processes with a gap listed (the biggest first, at most 10), the rest in one line.
TEST(BlindSpots, ProcessesWithAGapListedTheRestInOneLine) {
  RunModel m;
  for (int i = 0; i < 14; ++i)
    m.processes.push_back(process(i, 100 + i, 50, 90, 50));
  for (int i = 14; i < 80; ++i)
    m.processes.push_back(process(i, 10, 10, 10, 10));
  std::vector<std::string> b = blind_spots(m);
  EXPECT_EQ(count_with(b, "coverage: the kernel counted"), 10u);
  EXPECT_TRUE(contains(b[0], "1013-0")) << b[0]; // 23 unseen reads: the most
  EXPECT_EQ(count_with(b, "4 more process(es) with calls valley did not see"), 1u);
  EXPECT_EQ(count_with(b, "66 processes"), 1u);
  EXPECT_EQ(count_with(b, "coverage complete"), 1u);
  EXPECT_LE(b.size(), 13u);
}

// cp -r through copy_file_range: each call is a read and a write to the kernel; named, and not
// left as "calls valley cannot hook".
TEST(BlindSpots, CopyCallsExplainTheirReadsAndWrites) {
  RunModel m;
  ProcessSummary p = process(1, 599, 597, 2, 0);
  p.copy_calls = 597;
  m.processes.push_back(p);
  std::vector<std::string> b = blind_spots(m);
  EXPECT_EQ(count_with(b, "coverage complete"), 1u) << b[0];
  EXPECT_EQ(count_with(b, "597 copy_file_range/sendfile"), 1u) << b[0];
}

// cp -r traced by a shim that does not record copies (kernel 202 reads and 200 writes, none
// seen): the pairs are named as copies first, before stdio and raw syscalls. A gap of reads
// alone names copies only as a possibility, last.
TEST(BlindSpots, UnrecordedCopiesAreNamedFirstWhenReadsAndWritesPair) {
  RunModel m;
  m.processes.push_back(process(1, 202, 200, 0, 0));
  m.processes.push_back(process(2, 40, 0, 0, 0));
  std::vector<std::string> b = blind_spots(m);
  ASSERT_GE(b.size(), 2u);
  EXPECT_TRUE(contains(b[0], "came from calls valley cannot hook: copy_file_range, sendfile or "
                             "splice (a read and a write each"))
      << b[0];
  EXPECT_FALSE(contains(b[1], "cannot hook: copy_file_range")) << b[1];
  EXPECT_TRUE(contains(b[1], "io_uring, copy_file_range/sendfile/splice if")) << b[1];
}

// 120000 sends: not "kernel 0, valley 0" but named as outside the kernel's counts.
TEST(BlindSpots, SendAndRecvCallsAreSaidToBeOutsideTheKernelsCounts) {
  RunModel m;
  ProcessSummary p = process(1, 0, 0, 0, 0);
  p.socket_calls = 120000;
  m.processes.push_back(p);
  std::vector<std::string> b = blind_spots(m);
  EXPECT_EQ(count_with(b, "120000 send/recv-family call(s) besides, which those counts leave out"),
            1u)
      << b[0];
}
