// SPDX-License-Identifier: MIT
// A thread's shard: its event buffer keeps every record it stores in order, drops only what it
// counts, survives a signal handler nesting in the middle of a record, and a slot that will
// never be written (a tombstone) never holds the drain.
#include "shard.h"
#include "test_segment.h"

#include <csignal>
#include <map>
#include <sys/time.h>
#include <thread>

using namespace valley;
using namespace valley::shim;
using valley::shim::testing::TempSegment;

namespace {

ShardRef take_shard(Segment& seg, uint32_t i) {
  EXPECT_TRUE(segment_reserve_body(seg, i));
  seg.shards[i].state |= kShardReserved;
  if (seg.hdr->shards_used < i + 1) seg.hdr->shards_used = i + 1;
  return shard_ref(seg, i);
}

// One producer's record: tid names the producer, offset carries its sequence number.
bool produce(Segment& seg, const ShardRef& s, uint32_t producer, int64_t seq) {
  uint64_t index = 0;
  EventRecord* r = shard_reserve(s, &index);
  if (!r) return false;
  r->tid = producer;
  r->offset = seq;
  r->op = static_cast<uint8_t>(Op::write);
  shard_commit(r, index);
  shard_maybe_drain(seg, s, index, producer);
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

TEST(Shard, SingleProducerKeepsEverythingWhenDrained) {
  TempSegment t(1024);
  const ShardRef s = take_shard(t.seg, 0);
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(produce(t.seg, s, 1, i));
  ASSERT_TRUE(shard_drain(t.seg, 0, 1, true));
  auto recs = t.drained();
  EXPECT_EQ(recs.size(), 100000u);
  EXPECT_EQ(s.h->dropped, 0u);
  EXPECT_EQ(s.h->torn, 0u);
  EXPECT_EQ(s.h->drained, 100000u);
  EXPECT_EQ(check_order(recs)[1], 100000u);
  for (size_t i = 0; i < recs.size(); ++i) ASSERT_EQ(recs[i].commit, static_cast<uint32_t>(i + 1));
}

TEST(Shard, FullBufferDropsAndCountsExactly) {
  TempSegment t(1024);
  const ShardRef s = take_shard(t.seg, 3);
  // No drain: reserve and commit only, so the buffer must fill and then drop.
  uint64_t stored = 0;
  for (int i = 0; i < 5000; ++i) {
    uint64_t index;
    if (EventRecord* r = shard_reserve(s, &index)) {
      r->tid = 1;
      r->offset = i;
      r->op = static_cast<uint8_t>(Op::write);
      shard_commit(r, index);
      ++stored;
    }
  }
  EXPECT_EQ(stored + s.h->dropped, 5000u);
  EXPECT_EQ(stored, 1024u - 16) << "16 slots stay free for signal handlers";
  ASSERT_TRUE(shard_drain(t.seg, 3, 1, true));
  EXPECT_EQ(t.drained().size(), stored);
}

TEST(Shard, ThreadsWithAShardEachLoseNothing) {
  TempSegment t(4096);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200000;
  std::vector<ShardRef> shards;
  for (int p = 0; p < kThreads; ++p) shards.push_back(take_shard(t.seg, p));
  std::vector<std::thread> threads;
  std::vector<uint64_t> stored(kThreads);
  for (int p = 0; p < kThreads; ++p)
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPerThread; ++i) stored[p] += produce(t.seg, shards[p], p + 1, i);
    });
  for (auto& th : threads) th.join();
  for (int p = 0; p < kThreads; ++p) ASSERT_TRUE(shard_drain(t.seg, p, 99, true));
  auto recs = t.drained();
  auto per = check_order(recs);
  for (int p = 0; p < kThreads; ++p) {
    EXPECT_EQ(stored[p], uint64_t{kPerThread}) << "a thread draining itself never fills up";
    EXPECT_EQ(per[p + 1], stored[p]) << "producer " << p + 1;
    EXPECT_EQ(shards[p].h->torn, 0u);
  }
  EXPECT_EQ(recs.size(), uint64_t{kThreads} * kPerThread);
}

namespace {
Segment* g_sig_seg;
ShardRef g_sig_shard;
volatile sig_atomic_t g_sig_count;
void on_alarm(int) {
  if (produce(*g_sig_seg, g_sig_shard, 2, g_sig_count)) g_sig_count = g_sig_count + 1;
}
} // namespace

// The handler writes into the shard of the thread it interrupted, as a nested call does.
TEST(Shard, SignalHandlerNestingInProducerIsSafe) {
  TempSegment t(1024);
  g_sig_seg = &t.seg;
  g_sig_shard = take_shard(t.seg, 0);
  g_sig_count = 0;
  struct sigaction sa {};
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, nullptr);
  itimerval it{{0, 50}, {0, 50}};
  setitimer(ITIMER_REAL, &it, nullptr);
  uint64_t main_stored = 0;
  for (int i = 0; i < 2000000; ++i) main_stored += produce(t.seg, g_sig_shard, 1, i);
  itimerval off{};
  setitimer(ITIMER_REAL, &off, nullptr);
  signal(SIGALRM, SIG_DFL);
  ASSERT_TRUE(shard_drain(t.seg, 0, 1, true));
  auto recs = t.drained();
  auto per = check_order(recs);
  EXPECT_GT(g_sig_count, 0);
  EXPECT_EQ(per[1], main_stored);
  EXPECT_EQ(per[2], static_cast<uint64_t>(g_sig_count));
  EXPECT_EQ(main_stored, 2000000u) << "the owner drains in time; only a handler may find it full";
  EXPECT_EQ(g_sig_shard.h->torn, 0u);
}

// A slot reserved by a frame that will never come back: before the tombstone the drain stops
// there; after it, the drain passes it, counts it as torn and delivers what follows.
TEST(Shard, ATombstoneNeverHoldsTheDrain) {
  TempSegment t(1024);
  const ShardRef s = take_shard(t.seg, 1);
  ASSERT_TRUE(produce(t.seg, s, 1, 0));
  uint64_t abandoned;
  ASSERT_NE(shard_reserve(s, &abandoned), nullptr);
  ASSERT_TRUE(produce(t.seg, s, 1, 2));
  EXPECT_FALSE(shard_drain(t.seg, 1, 1, true)) << "the slot in the middle is not written";
  EXPECT_EQ(t.drained().size(), 1u);
  shard_tombstone_open(s);
  EXPECT_TRUE(shard_drain(t.seg, 1, 1, true));
  auto recs = t.drained();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].offset, 0);
  EXPECT_EQ(recs[1].offset, 2);
  EXPECT_EQ(s.h->torn, 1u);
  EXPECT_EQ(s.h->drained, 3u);
}
