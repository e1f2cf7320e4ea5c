// SPDX-License-Identifier: MIT
// The ring under contention: nothing is lost without being counted, nothing is torn, and each
// producer's records stay in order.
#include "ring.h"
#include "test_segment.h"

#include <csignal>
#include <map>
#include <sys/time.h>
#include <thread>

using namespace valley;
using namespace valley::shim;
using valley::shim::testing::TempSegment;

namespace {

// One producer's record: tid names the producer, offset carries its sequence number.
bool produce(Segment& seg, uint32_t producer, int64_t seq, bool plain = false) {
  uint64_t index = 0;
  EventRecord* r = ring_reserve(seg, &index, plain);
  if (!r) return false;
  r->tid = producer;
  r->offset = seq;
  r->op = static_cast<uint8_t>(Op::write);
  ring_commit(r, index);
  ring_maybe_drain(seg, index);
  return true;
}

// Checks that every producer's records are strictly increasing and returns how many there are.
std::map<uint32_t, uint64_t> check_order(const std::vector<EventRecord>& recs) {
  std::map<uint32_t, int64_t> last;
  std::map<uint32_t, uint64_t> count;
  for (const EventRecord& r : recs) {
    auto it = last.find(r.tid);
    if (it != last.end()) {
      EXPECT_LT(it->second, r.offset) << "producer " << r.tid;
    }
    last[r.tid] = r.offset;
    ++count[r.tid];
  }
  return count;
}

} // namespace

class RingPlainOrLocked : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(Ring, RingPlainOrLocked, ::testing::Values(true, false),
                         [](const auto& p) { return p.param ? "plain" : "locked"; });

TEST_P(RingPlainOrLocked, SingleProducerKeepsEverythingWhenDrained) {
  TempSegment t(1024);
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(produce(t.seg, 1, i, GetParam()));
  ASSERT_TRUE(ring_drain_all(t.seg));
  auto recs = t.drained();
  EXPECT_EQ(recs.size(), 100000u);
  EXPECT_EQ(t.seg.hdr->events_dropped, 0u);
  EXPECT_EQ(t.seg.hdr->events_torn, 0u);
  EXPECT_EQ(check_order(recs)[1], 100000u);
  for (size_t i = 0; i < recs.size(); ++i) ASSERT_EQ(recs[i].commit, static_cast<uint32_t>(i + 1));
}

TEST_P(RingPlainOrLocked, FullRingDropsAndCountsExactly) {
  TempSegment t(1024);
  // No drain: reserve and commit only, so the ring must fill and then drop.
  uint64_t stored = 0;
  for (int i = 0; i < 5000; ++i) {
    uint64_t index;
    if (EventRecord* r = ring_reserve(t.seg, &index, GetParam())) {
      r->tid = 1;
      r->offset = i;
      ring_commit(r, index);
      ++stored;
    }
  }
  EXPECT_EQ(stored + t.seg.hdr->events_dropped, 5000u);
  EXPECT_GE(stored, 1024u - 16);
  EXPECT_LE(stored, 1024u);
  ASSERT_TRUE(ring_drain_all(t.seg));
  EXPECT_EQ(t.drained().size(), stored);
}

TEST(Ring, ManyThreadsLoseNothingUncounted) {
  TempSegment t(4096);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200000;
  std::vector<std::thread> threads;
  std::vector<uint64_t> stored(kThreads);
  for (int p = 0; p < kThreads; ++p)
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPerThread; ++i) stored[p] += produce(t.seg, p + 1, i);
    });
  for (auto& th : threads) th.join();
  ASSERT_TRUE(ring_drain_all(t.seg));
  auto recs = t.drained();
  auto per = check_order(recs);
  uint64_t total_stored = 0;
  for (int p = 0; p < kThreads; ++p) {
    EXPECT_EQ(per[p + 1], stored[p]) << "producer " << p + 1;
    total_stored += stored[p];
  }
  EXPECT_EQ(recs.size(), total_stored);
  EXPECT_EQ(total_stored + t.seg.hdr->events_dropped, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(t.seg.hdr->events_torn, 0u);
}

namespace {
Segment* g_sig_seg;
volatile sig_atomic_t g_sig_count;
void on_alarm(int) {
  if (produce(*g_sig_seg, 2, g_sig_count)) g_sig_count = g_sig_count + 1;
}
} // namespace

TEST(Ring, SignalHandlerNestingInProducerIsSafe) {
  TempSegment t(1024);
  g_sig_seg = &t.seg;
  g_sig_count = 0;
  struct sigaction sa {};
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, nullptr);
  itimerval it{{0, 50}, {0, 50}};
  setitimer(ITIMER_REAL, &it, nullptr);
  uint64_t main_stored = 0;
  for (int i = 0; i < 2000000; ++i) main_stored += produce(t.seg, 1, i);
  itimerval off{};
  setitimer(ITIMER_REAL, &off, nullptr);
  signal(SIGALRM, SIG_DFL);
  ASSERT_TRUE(ring_drain_all(t.seg));
  auto recs = t.drained();
  auto per = check_order(recs);
  EXPECT_GT(g_sig_count, 0);
  EXPECT_EQ(per[1], main_stored);
  EXPECT_EQ(per[2], static_cast<uint64_t>(g_sig_count));
  EXPECT_EQ(t.seg.hdr->events_torn, 0u);
}
