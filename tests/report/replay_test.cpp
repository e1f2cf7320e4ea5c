// SPDX-License-Identifier: MIT
// The what-if replay against counts worked out by hand.
#include "analyses/bursts.h"
#include "analyses/replay.h"
#include "event_pass.h"

#include <gtest/gtest.h>

using namespace valley;
using namespace valley::advisor;

namespace {

// The event pass with the replay and the burst analysis, over `sites` (one process).
struct Harness {
  std::vector<SiteAgg>& sites;
  Trace trace;
  TraceModel model;
  Replay replay;
  Bursts bursts;
  EventPass pass;
  Harness(std::vector<SiteAgg>& s, const AdvisorSettings& settings, double ns_per_tick)
      : sites(s), replay(settings), bursts(settings),
        pass(s, ns_per_tick, {&replay, &bursts}) {
    for (size_t i = 0; i < s.size(); ++i) s[i].id = i;
    const ProcessContext ctx{trace, model, ns_per_tick};
    replay.begin_process(ctx);
    bursts.begin_process(ctx);
  }
  const std::vector<ReplayResult>& rows(size_t i) { return replay.of(sites[i]); }
};

SiteAgg site(Op op, FdKind kind) {
  SiteAgg a;
  a.op = static_cast<uint8_t>(op);
  a.kind = static_cast<uint8_t>(kind);
  a.output = op_is_output(op);
  a.positional = op == Op::pread;
  return a;
}

EventRecord ev(Op op, int fd, uint32_t size, int32_t result, uint64_t ticks, int64_t offset = -1) {
  EventRecord e{};
  e.op = static_cast<uint8_t>(op);
  e.fd = fd;
  e.size = size;
  e.result = result;
  e.ticks = ticks;
  e.offset = offset;
  e.fd_kind = static_cast<uint8_t>(FdKind::regular);
  return e;
}

} // namespace

// 100 writes of 100 B into a 4096 B buffer, a read of the fd after the 50th:
// flush at the 41st write (40 held), the read flushes 41..50, flush at the 91st, the end
// flushes 91..100: 4 syscalls.
TEST(Replay, WritesFlushOnSizeOnReadAndAtTheEnd) {
  AdvisorSettings s;
  s.buffer_sizes = {4096};
  std::vector<SiteAgg> sites{site(Op::write, FdKind::regular), site(Op::read, FdKind::regular)};
  sites[0].calls = 100;
  Harness h(sites, s, 1.0);
  EventPass& pass = h.pass;
  uint64_t t = 0;
  for (int i = 1; i <= 100; ++i) {
    pass.event(ev(Op::write, 3, 100, 100, t += 1000), 0);
    if (i == 50) pass.event(ev(Op::read, 3, 10, 0, t += 1000), 1);
  }
  pass.finish();
  EXPECT_DOUBLE_EQ(h.rows(0)[0].syscalls_after, 4.0);
}

// With a 1 ms age limit, writes 2 ms apart never share a buffer.
TEST(Replay, AgeLimitFlushes) {
  AdvisorSettings s;
  s.buffer_sizes = {65536};
  s.max_age_ms = 1;
  std::vector<SiteAgg> sites{site(Op::write, FdKind::regular)};
  Harness h(sites, s, 1.0);
  EventPass& pass = h.pass;
  for (int i = 0; i < 10; ++i) pass.event(ev(Op::write, 3, 10, 10, 2'000'000ull * (i + 1)), 0);
  pass.finish();
  EXPECT_DOUBLE_EQ(h.rows(0)[0].syscalls_after, 10.0);
}

// Two sites alternating on one fd share each flush.
TEST(Replay, SharedFlushesAreSplitBetweenSites) {
  AdvisorSettings s;
  s.buffer_sizes = {4096};
  std::vector<SiteAgg> sites{site(Op::write, FdKind::regular), site(Op::write, FdKind::regular)};
  Harness h(sites, s, 1.0);
  EventPass& pass = h.pass;
  uint64_t t = 0;
  for (int i = 0; i < 10; ++i) {
    pass.event(ev(Op::write, 3, 5, 5, t += 10), 0);
    pass.event(ev(Op::write, 3, 1, 1, t += 10), 1);
  }
  pass.finish();
  EXPECT_DOUBLE_EQ(h.rows(0)[0].syscalls_after, 0.5);
  EXPECT_DOUBLE_EQ(h.rows(1)[0].syscalls_after, 0.5);
}

// 10000 reads of 1 B (full) then EOF: one 4096 B read serves 4096 of them: ceil(10000/4096) = 3
// reads, plus the EOF read: 4.
TEST(Replay, BufferedReaderCounts) {
  AdvisorSettings s;
  s.buffer_sizes = {4096};
  std::vector<SiteAgg> sites{site(Op::read, FdKind::regular)};
  Harness h(sites, s, 1.0);
  EventPass& pass = h.pass;
  uint64_t t = 0;
  for (int i = 0; i < 10000; ++i) pass.event(ev(Op::read, 3, 1, 1, t += 10), 0);
  pass.event(ev(Op::read, 3, 1, 0, t += 10), 0);
  pass.finish();
  EXPECT_DOUBLE_EQ(h.rows(0)[0].syscalls_after, 4.0);
}

// Sequential preads: offsets continue; a jump costs a read.
TEST(Replay, SequentialPreadsAndAJump) {
  AdvisorSettings s;
  s.buffer_sizes = {4096};
  std::vector<SiteAgg> sites{site(Op::pread, FdKind::regular)};
  Harness h(sites, s, 1.0);
  EventPass& pass = h.pass;
  uint64_t t = 0;
  for (int i = 0; i < 64; ++i) pass.event(ev(Op::pread, 3, 128, 128, t += 10, i * 128), 0);
  pass.event(ev(Op::pread, 3, 128, 128, t += 10, 1 << 20), 0);
  pass.finish();
  EXPECT_DOUBLE_EQ(h.rows(0)[0].syscalls_after, 3.0); // 0..4095, 4096..8191, the jump
}

// ---- run records (kEventRun): EventPass::run against the call-by-call expansion ----

namespace {

struct RunCase {
  uint32_t size;
  uint64_t calls, span;   // span: ticks from the first call to the last
  bool other_site_before; // another site's write already in the buffers
};

struct Replayed {
  std::vector<SiteAgg> sites;
  std::vector<std::vector<ReplayResult>> rows;
  std::vector<uint64_t> burst_calls;
  const SiteAgg& operator[](size_t k) const { return sites[k]; }
};

Replayed replay_run(const RunCase& c, bool expand, const AdvisorSettings& s) {
  std::vector<SiteAgg> sites{site(Op::write, FdKind::regular), site(Op::write, FdKind::regular)};
  Harness h(sites, s, 0.5);
  EventPass& pass = h.pass;
  if (c.other_site_before) pass.event(ev(Op::write, 3, 10, 10, 1000), 1);
  EventRecord r = ev(Op::write, 3, c.size, static_cast<int32_t>(c.size), 5000);
  r.flags = kEventCoalesced | kEventRun;
  r.duration = static_cast<uint32_t>(c.calls);
  r.offset = static_cast<int64_t>(5000 + c.span);
  if (expand)
    for_each_call(r, [&](const EventRecord& one) { pass.event(one, 0); });
  else
    pass.run(r, c.calls, 0);
  pass.event(ev(Op::write, 3, 7, 7, 5000 + c.span + 10), 1); // after the run
  pass.finish();
  Replayed out{sites, {h.rows(0), h.rows(1)}, {h.bursts.of(sites[0]).calls, h.bursts.of(sites[1]).calls}};
  return out;
}

} // namespace

// Runs whose buffers flush at most a few times: the same figures as expanding every call.
TEST(ReplayRuns, SameResultAsTheExpansion) {
  AdvisorSettings s;
  s.buffer_sizes = {4096, 65536};
  s.max_age_ms = 1;
  const RunCase cases[] = {
      {1, 2, 10, false},        {1, 1000, 5000, true},      {8, 3000, 100000, false},
      {100, 500, 700000, true}, {3000, 40, 3000000, false}, {5000, 30, 1000, true}, // >= 4096
      {0, 100, 100, false},     {64, 2000, 9000000, true},  {1, 7, 0, true},
  };
  for (const RunCase& c : cases) {
    SCOPED_TRACE(testing::Message()
                 << "size " << c.size << " calls " << c.calls << " span " << c.span);
    Replayed want = replay_run(c, true, s), got = replay_run(c, false, s);
    for (size_t k = 0; k < 2; ++k) {
      EXPECT_EQ(got[k].events, want[k].events);
      EXPECT_EQ(got[k].coalesced, want[k].coalesced);
      EXPECT_EQ(got[k].sizes, want[k].sizes);
      EXPECT_EQ(got[k].gap_hist, want[k].gap_hist);
      EXPECT_EQ(got.burst_calls[k], want.burst_calls[k]);
      for (size_t i = 0; i < s.buffer_sizes.size(); ++i) {
        EXPECT_DOUBLE_EQ(got.rows[k][i].syscalls_after, want.rows[k][i].syscalls_after) << i;
        EXPECT_DOUBLE_EQ(got.rows[k][i].max_delay_ns, want.rows[k][i].max_delay_ns) << i;
        EXPECT_EQ(got.rows[k][i].max_fds, want.rows[k][i].max_fds) << i;
      }
    }
  }
}

// Past a few flushes the rest of a run is counted at once: within one flush of the expansion.
TEST(ReplayRuns, LongRunsStayWithinOneFlushOfTheExpansion) {
  AdvisorSettings s;
  s.buffer_sizes = {4096};
  s.max_age_ms = 1;
  for (const RunCase& c :
       {RunCase{1, 1'000'000, 3'000'000, true}, RunCase{3000, 5000, 50'000'000, false},
        RunCase{10, 200'000, 9'000'000'000, true}}) {
    Replayed want = replay_run(c, true, s), got = replay_run(c, false, s);
    EXPECT_NEAR(got.rows[0][0].syscalls_after, want.rows[0][0].syscalls_after, 1.0) << c.calls;
    EXPECT_EQ(got[0].events, want[0].events);
    EXPECT_EQ(got[0].gap_hist, want[0].gap_hist);
  }
}

// 2^32 - 1 calls (the most a record holds): no waiting for four billion iterations.
TEST(ReplayRuns, TheLongestRunIsCountedAtOnce) {
  AdvisorSettings s;
  s.buffer_sizes = {4096, 1 << 20};
  RunCase c{1, UINT32_MAX, uint64_t{1} << 40, false};
  Replayed got = replay_run(c, false, s);
  EXPECT_EQ(got[0].events, uint64_t{UINT32_MAX});
  // 4096 one-byte calls per 4 KiB buffer, the age limit (5 ms = 10^7 ticks) far off.
  EXPECT_NEAR(got.rows[0][0].syscalls_after, static_cast<double>(UINT32_MAX) / 4096, 2.0);
}

// per-fd state grew with every distinct fd number (a million fds: 725 MB).
// Past kMaxFds the fds idle longest are retired as at the end of the trace: each of these
// fds, written once, is still one flush, and memory is bounded.
TEST(Replay, PerFdStateIsBoundedAndRetiredFdsStillCount) {
  AdvisorSettings s;
  s.buffer_sizes = {4096};
  std::vector<SiteAgg> sites{site(Op::send, FdKind::tcp)};
  Harness h(sites, s, 1.0);
  EventPass& pass = h.pass;
  const int fds = 3 * static_cast<int>(EventPass::kMaxFds) + 7;
  size_t most = 0;
  for (int fd = 0; fd < fds; ++fd) {
    EventRecord e = ev(Op::send, fd + 3, 64, 64, 1000 + 10 * static_cast<uint64_t>(fd));
    e.fd_kind = static_cast<uint8_t>(FdKind::tcp);
    pass.event(e, 0);
    most = std::max(most, pass.tracked_fds());
  }
  EXPECT_LE(most, EventPass::kMaxFds);
  pass.finish();
  EXPECT_DOUBLE_EQ(h.rows(0)[0].syscalls_after, fds);
  EXPECT_EQ(h.rows(0)[0].max_fds, EventPass::kMaxFds);
  EXPECT_EQ(sites[0].events, static_cast<uint64_t>(fds));
}

// Below the bound nothing is retired early: two sites on 100 fds keep their buffers until the
// end, and each holds 100 at once.
TEST(Replay, BelowTheBoundBuffersLiveUntilTheEnd) {
  AdvisorSettings s;
  s.buffer_sizes = {4096};
  std::vector<SiteAgg> sites{site(Op::write, FdKind::regular), site(Op::write, FdKind::regular)};
  Harness h(sites, s, 1.0);
  EventPass& pass = h.pass;
  uint64_t t = 0;
  for (int round = 0; round < 10; ++round)
    for (int fd = 3; fd < 103; ++fd) {
      pass.event(ev(Op::write, fd, 10, 10, t += 10), 0);
      pass.event(ev(Op::write, fd, 10, 10, t += 10), 1);
    }
  pass.finish();
  // Per fd one buffer of 200 bytes, flushed at the end, shared half and half.
  EXPECT_DOUBLE_EQ(h.rows(0)[0].syscalls_after, 50.0);
  EXPECT_EQ(h.rows(0)[0].max_fds, 100u);
  EXPECT_EQ(h.rows(1)[0].max_fds, 100u);
}

namespace {
// The coalescer's replay alone over `sites` (one process).
struct CoalescerHarness {
  std::vector<SiteAgg>& sites;
  Trace trace;
  TraceModel model;
  CoalescerReplay replay;
  EventPass pass;
  CoalescerHarness(std::vector<SiteAgg>& s, const AdvisorSettings& settings)
      : sites(s), replay(settings), pass(s, 1.0, {&replay}) {
    for (size_t i = 0; i < s.size(); ++i) s[i].id = i;
    replay.begin_process(ProcessContext{trace, model, 1.0});
  }
  double after(size_t i) { return replay.of(sites[i])[0].syscalls_after; }
};
} // namespace

// Issue 12: the coalescer's replay flushes where include/valley/flush_rules.h says the shim's
// coalescer does, with its one buffer per process. dd's loop (a 1-byte read of fd 0 before each
// 1-byte write of fd 1) gains nothing from it, while the program-change replay buffers fd 1's
// writes across the reads; two files written in turn flush at every switch; one file's writes
// alone are one flush.
TEST(CoalescerReplay, FlushesWhereTheCoalescerDoes) {
  AdvisorSettings s;
  s.buffer_sizes = {4096};
  std::vector<SiteAgg> dd{site(Op::read, FdKind::chardev), site(Op::write, FdKind::regular)};
  CoalescerHarness h(dd, s);
  Harness program(dd, s, 1.0);
  uint64_t t = 0;
  for (int i = 0; i < 1000; ++i) {
    t += 10;
    h.pass.event(ev(Op::read, 0, 1, 1, t), 0);
    program.pass.event(ev(Op::read, 0, 1, 1, t), 0);
    t += 10;
    h.pass.event(ev(Op::write, 1, 1, 1, t), 1);
    program.pass.event(ev(Op::write, 1, 1, 1, t), 1);
  }
  h.pass.finish();
  program.pass.finish();
  EXPECT_DOUBLE_EQ(h.after(1), 1000.0);
  EXPECT_DOUBLE_EQ(program.rows(1)[0].syscalls_after, 1.0);
  const Replay::Causes* c = h.replay.causes(dd[1], 0);
  ASSERT_NE(c, nullptr);
  EXPECT_DOUBLE_EQ((*c)[static_cast<size_t>(ReplayFlush::read)], 999.0);

  // The same loop reading /dev/zero by name: a memory device, which no read of can see the
  // buffer (B-19), so the writes are buffered across the reads.
  std::vector<SiteAgg> zero{site(Op::read, FdKind::chardev), site(Op::write, FdKind::regular)};
  zero[0].paths["/dev/zero"] = 1000;
  CoalescerHarness z(zero, s);
  t = 0;
  for (int i = 0; i < 1000; ++i) {
    z.pass.event(ev(Op::read, 0, 1, 1, t += 10), 0);
    z.pass.event(ev(Op::write, 1, 1, 1, t += 10), 1);
  }
  z.pass.finish();
  EXPECT_DOUBLE_EQ(z.after(1), 1.0);

  std::vector<SiteAgg> two{site(Op::write, FdKind::regular), site(Op::write, FdKind::regular)};
  CoalescerHarness w(two, s);
  t = 0;
  for (int i = 0; i < 500; ++i) {
    w.pass.event(ev(Op::write, 3, 1, 1, t += 10), 0);
    w.pass.event(ev(Op::write, 4, 1, 1, t += 10), 1);
  }
  w.pass.finish();
  EXPECT_DOUBLE_EQ(w.after(0), 500.0);
  EXPECT_DOUBLE_EQ(w.after(1), 500.0);

  std::vector<SiteAgg> alone{site(Op::write, FdKind::regular)};
  CoalescerHarness one(alone, s);
  t = 0;
  for (int i = 0; i < 1000; ++i)
    one.pass.event(ev(Op::write, 1, 1, 1, t += 10), 0);
  one.pass.finish();
  EXPECT_DOUBLE_EQ(one.after(0), 1.0);
}
