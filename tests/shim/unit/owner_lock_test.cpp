// SPDX-License-Identifier: MIT
// The owner's window: plain (non-locked) adds made inside it are never lost to another thread
// that excludes the owner, and a second program thread closes the window for good.
#include "counter_ops.h"
#include "owner_lock.h"

#include <gtest/gtest.h>
#include <chrono>
#include <thread>

using namespace valley::shim;

namespace {

// gtest runs tests on the main thread, which is the owner. Each test starts from the state a
// fresh single-threaded process has.
class OwnerLock : public ::testing::Test {
protected:
  void SetUp() override { owner::after_fork_child(); }
  void TearDown() override { owner::after_fork_child(); }
};

TEST_F(OwnerLock, MainThreadGetsTheWindow) {
  ASSERT_TRUE(owner::enter());
  EXPECT_EQ(owner::g_busy.n.load(), 1u);
  ASSERT_TRUE(owner::enter()); // nesting (a signal handler inside valley)
  owner::leave();
  owner::leave();
  EXPECT_EQ(owner::g_busy.n.load(), 0u);
}

TEST_F(OwnerLock, PlainAddsInTheWindowAreNotLostToAnExcludingHelper) {
  uint64_t counter = 0;
  std::atomic<bool> stop{false};
  uint64_t helper_adds = 0;
  std::thread helper([&] {
    owner::become_helper();
    while (!stop.load(std::memory_order_relaxed)) {
      if (!owner::exclude()) continue;
      // What the flusher does while it excludes: locked adds on what the owner adds to plainly.
      for (int i = 0; i < 64; ++i) add_as(false, counter, 1);
      helper_adds += 64;
      owner::readmit();
      for (int i = 0; i < 2000; ++i) asm volatile("" ::: "memory"); // let the owner back in
    }
  });
  constexpr uint64_t kOwnerAdds = 20000000;
  uint64_t windows = 0;
  for (uint64_t i = 0; i < kOwnerAdds; ++i) {
    if (owner::enter()) {
      add_as(true, counter, 1);
      owner::leave();
      ++windows;
    } else {
      add_as(false, counter, 1);
    }
  }
  stop = true;
  helper.join();
  EXPECT_GT(helper_adds, 0u);
  EXPECT_GT(windows, 0u);
  EXPECT_LT(windows, kOwnerAdds); // both paths ran
  EXPECT_EQ(counter, kOwnerAdds + helper_adds);
}

TEST_F(OwnerLock, ASecondProgramThreadClosesTheWindowForGood) {
  ASSERT_TRUE(owner::enter());
  owner::leave();
  std::thread other([] { EXPECT_FALSE(owner::is_owner()); });
  other.join();
  EXPECT_FALSE(owner::enter());
  EXPECT_EQ(owner::g_busy.n.load(), 0u);
}

// While a second program thread waits for the owner to leave, the window is closing but not
// closed: a helper that excludes must wait for the owner too.
TEST_F(OwnerLock, EveryRevokerWaitsForTheOwner) {
  using clock = std::chrono::steady_clock;
  ASSERT_TRUE(owner::enter());
  std::thread other([] { EXPECT_FALSE(owner::is_owner()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50)); // `other` is waiting now
  clock::time_point excluded{};
  std::thread helper([&] {
    owner::become_helper();
    EXPECT_TRUE(owner::exclude());
    excluded = clock::now();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const clock::time_point left = clock::now();
  owner::leave();
  other.join();
  helper.join();
  EXPECT_GE(excluded, left) << "the helper went in while the owner was inside its window";
  EXPECT_FALSE(owner::enter());
}

// A window still open after a second (a long signal handler, a debugger stop, a frame left by
// siglongjmp): the exclusion fails rather than touch what the window guards, and the window
// never opens again; once the owner is out, exclusions succeed at once.
TEST_F(OwnerLock, AWindowOpenTooLongIsNeverEnteredAgain) {
  ASSERT_TRUE(owner::enter());
  const auto t0 = std::chrono::steady_clock::now();
  std::thread helper([] {
    owner::become_helper();
    EXPECT_FALSE(owner::exclude()) << "excluded while the owner was inside";
  });
  helper.join();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900));
  owner::leave();
  EXPECT_FALSE(owner::enter());
  std::thread later([] {
    owner::become_helper();
    EXPECT_TRUE(owner::exclude());
    owner::readmit();
  });
  later.join();
  EXPECT_FALSE(owner::enter());
}

TEST_F(OwnerLock, AHelperThreadDoesNotCloseIt) {
  std::thread helper([] {
    owner::become_helper();
    EXPECT_FALSE(owner::is_owner());
  });
  helper.join();
  EXPECT_TRUE(owner::enter());
  owner::leave();
}

} // namespace
