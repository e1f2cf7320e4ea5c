// SPDX-License-Identifier: MIT
// Call sites: one row per return address, stacks captured once and deduplicated.
#include "modules.h"
#include "sites.h"
#include "test_segment.h"


using namespace valley;
using namespace valley::shim;
using valley::shim::testing::TempSegment;

namespace {
__attribute__((noinline)) void anchor() { asm volatile(""); }
} // namespace

TEST(Sites, SameReturnAddressSameSiteWithOneStack) {
  TempSegment t;
  // Not find_self_range(): the engine is linked into this test binary, so "self" would be
  // every frame. Library splitting is tested under the real preload (e2e, streams victim).
  modules_refresh(t.seg);
  const uint64_t ra = reinterpret_cast<uint64_t>(&anchor) + 1; // inside the main executable
  uint32_t a = site_lookup(t.seg, ra, false, 62);
  uint32_t b = site_lookup(t.seg, ra, false, 62);
  uint32_t c = site_lookup(t.seg, ra + 1, false, 62);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(t.seg.hdr->sites_used, 2u);
  const SiteRow& row = t.seg.sites[a];
  EXPECT_EQ(row.return_address, ra);
  EXPECT_TRUE(row.flags & kSiteReady);
  EXPECT_FALSE(row.flags & kSiteMarker);
  ASSERT_NE(row.first_stack, 0u);
  const StackRow& s = t.seg.stacks[row.first_stack - 1];
  EXPECT_EQ(s.site, a);
  EXPECT_GT(s.nframes, 2u);
  // Sampling the same place again adds a hit instead of a second stack.
  const uint32_t stacks = t.seg.hdr->stacks_used;
  volatile int twice = 2; // not unrolled: one call instruction, so both samples share every frame
  for (int i = 0; i < twice; ++i) site_sample(t.seg, a, 62);
  EXPECT_EQ(t.seg.hdr->stacks_used, stacks + 1); // site_sample's own stack differs from the first
  EXPECT_EQ(t.seg.stacks[stacks].hits, 2u);
}

TEST(Sites, NestedCallsNeverCaptureStacks) {
  TempSegment t;
  const uint64_t ra = reinterpret_cast<uint64_t>(&anchor) + 2;
  uint32_t id = site_lookup(t.seg, ra, true, 62);
  ASSERT_NE(id, kSiteUnknown);
  EXPECT_EQ(t.seg.sites[id].first_stack, 0u);
  EXPECT_TRUE(t.seg.sites[id].flags & kSiteNoStack);
  EXPECT_EQ(t.seg.hdr->stacks_used, 0u);
}
