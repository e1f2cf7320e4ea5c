// SPDX-License-Identifier: MIT
// Run records, driven through the recorder (io_done, as a hook calls it) into a real segment:
// identical absorbed writes stay in the thread's held record and count there; the record is
// committed to the shard's buffer once, when the run breaks, and never touched again; a slot a
// frame reserved and never wrote (a longjmp out of a signal handler) becomes a tombstone, so
// the committed run behind it still drains.
#include "clock.h"
#include "recorder.h"
#include "recorder_internal.h"
#include "shard.h"
#include "test_segment.h"

#include <cstring>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <thread>
#include <unistd.h>

using namespace valley;
using namespace valley::shim;
using valley::shim::testing::TempSegment;

namespace {

void call_site_marker() {}

class RunRecord : public ::testing::Test {
protected:
  TempSegment ts{1024};
  int fd = -1;
  // One call site for every call, so only size and flags decide whether a run continues.
  const uint64_t ra = reinterpret_cast<uint64_t>(&call_site_marker) + 1;

  void SetUp() override {
    ASSERT_NE(ts.seg.hdr, nullptr);
    clock::init();
    g_opts = Options{};
    g_opts.events = true;
    g_opts.ring_events = 1024;
    g_opts.max_frames = 62;
    g_seg = ts.seg;
    g_phase.store(kActive);
    fd = ::open("/dev/null", O_WRONLY);
    ASSERT_GE(fd, 0);
  }
  void TearDown() override {
    g_phase.store(kOff);
    g_seg = Segment{};
    ::close(fd);
  }

  // A write the coalescer took (kEventCoalesced), or one that went to the kernel.
  void absorbed(uint64_t size) {
    io_done(Op::write, fd, size, -1, static_cast<ssize_t>(size), clock::ticks(), ra,
            kEventCoalesced);
  }
  void written(uint64_t size) {
    io_done(Op::write, fd, size, -1, static_cast<ssize_t>(size), clock::ticks(), ra, 0);
  }

  // Runs `body` on a thread of its own: a fresh Thread claims a fresh shard.
  template <class F> void on_new_thread(F body) {
    std::thread th([&] { body(t_thread); });
    th.join();
  }

  static const EventRecord& slot(const Thread& t, uint64_t index) {
    return t.shard.events[index & t.shard.events_mask];
  }
};

TEST_F(RunRecord, HeldByTheThreadUntilTheRunBreaksThenCommittedOnce) {
  on_new_thread([&](Thread& t) {
    absorbed(1);
    ASSERT_NE(t.shard.h, nullptr) << "the thread got no shard";
    ShardHeader& h = *t.shard.h;
    for (int i = 1; i < 5; ++i)
      absorbed(1);
    // Five identical calls: one held record, nothing in the buffer yet.
    EXPECT_EQ(h.head, 0u);
    EXPECT_EQ(h.held, 1u);
    EXPECT_EQ(h.run.flags, kEventCoalesced | kEventRun);
    EXPECT_EQ(h.run.duration, 5u) << "a run record's duration is its call count";
    EXPECT_EQ(h.run.size, 1u);

    // Another size breaks the run: it is committed, the new call is held on its own.
    absorbed(2);
    ASSERT_EQ(h.head, 1u);
    const EventRecord first = slot(t, 0);
    EXPECT_EQ(first.commit, 1u);
    EXPECT_EQ(first.flags, kEventCoalesced | kEventRun);
    EXPECT_EQ(first.duration, 5u);
    EXPECT_EQ(first.size, 1u);
    EXPECT_EQ(h.held, 1u);
    EXPECT_EQ(h.run.flags, kEventCoalesced) << "one call held is not a run yet";
    EXPECT_EQ(h.run.size, 2u);

    for (int i = 0; i < 3; ++i)
      absorbed(2);
    EXPECT_EQ(h.head, 1u);
    EXPECT_EQ(h.run.duration, 4u);
    // A call that went to the kernel ends the run and is recorded behind it.
    written(3);
    ASSERT_EQ(h.head, 3u);
    EXPECT_EQ(h.held, 0u);
    EXPECT_EQ(slot(t, 1).flags, kEventCoalesced | kEventRun);
    EXPECT_EQ(slot(t, 1).duration, 4u);
    EXPECT_EQ(slot(t, 2).flags, 0u);
    EXPECT_EQ(slot(t, 2).size, 3u);
    written(3);
    EXPECT_EQ(h.head, 4u) << "nothing held: no run committed again";
    EXPECT_EQ(std::memcmp(&slot(t, 0), &first, sizeof first), 0) << "a committed record changed";

    ASSERT_TRUE(shard_drain(g_seg, t.shard.index, t.tid, true));
    const auto recs = ts.drained();
    ASSERT_EQ(recs.size(), 4u);
    uint64_t calls = 0;
    for (const EventRecord& r : recs)
      calls += event_calls(r);
    EXPECT_EQ(calls, 5u + 4u + 1u + 1u);
    EXPECT_EQ(h.torn, 0u);
    EXPECT_EQ(h.dropped, 0u);
  });
}

TEST_F(RunRecord, ATombstoneForAnAbandonedSlotNeverHoldsTheCommittedRun) {
  on_new_thread([&](Thread& t) {
    absorbed(1);
    ASSERT_NE(t.shard.h, nullptr) << "the thread got no shard";
    ShardHeader& h = *t.shard.h;
    absorbed(1);
    absorbed(1);
    // A signal handler's frame reserved a slot and jumped out before writing it.
    uint64_t abandoned = 0;
    ASSERT_NE(shard_reserve(t.shard, &abandoned), nullptr);
    EXPECT_EQ(abandoned, 0u);
    // The thread's next outermost call learns that the frame is gone.
    recover_thread(t);
    EXPECT_EQ(h.held, 1u) << "the held run belongs to the thread, not to the lost frame";
    written(7);
    ASSERT_EQ(h.head, 3u);
    EXPECT_EQ(slot(t, 0).op, 0u) << "the abandoned slot is a tombstone";
    EXPECT_EQ(slot(t, 1).duration, 3u);

    ASSERT_TRUE(shard_drain(g_seg, t.shard.index, t.tid, true))
        << "the unwritten slot held the drain";
    const auto recs = ts.drained();
    ASSERT_EQ(recs.size(), 2u);
    EXPECT_EQ(recs[0].flags, kEventCoalesced | kEventRun);
    EXPECT_EQ(recs[0].duration, 3u);
    EXPECT_EQ(recs[1].size, 7u);
    EXPECT_EQ(h.torn, 1u);
    EXPECT_EQ(h.drained, 3u);
  });
}

} // namespace
