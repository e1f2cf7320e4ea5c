// SPDX-License-Identifier: MIT
// VALLEY_* settings: defaults, valid values, and a bad value turning tracing off.
#include "options.h"

#include <gtest/gtest.h>
#include <string>
#include <vector>

using namespace valley::shim;

namespace {

bool parse(std::vector<std::string> vars, Options* o) {
  std::vector<char*> env;
  for (auto& v : vars) env.push_back(v.data());
  env.push_back(nullptr);
  return read_options(env.data(), o);
}

} // namespace

TEST(Options, Defaults) {
  Options o;
  ASSERT_TRUE(parse({"PATH=/bin"}, &o));
  EXPECT_EQ(o.ring_events, 65536u);
  EXPECT_TRUE(o.events);
  EXPECT_EQ(o.stack_sample, 4096u);
  EXPECT_EQ(o.max_frames, 62u);
  EXPECT_FALSE(o.off);
  EXPECT_EQ(std::string(o.dir), "");
}

TEST(Options, ValidValues) {
  Options o;
  ASSERT_TRUE(parse({"VALLEY_DIR=/tmp/x", "VALLEY_RING_EVENTS=3000", "VALLEY_EVENTS=0",
                     "VALLEY_STACK_SAMPLE=0", "VALLEY_MAX_FRAMES=8", "VALLEY_OFF=1"},
                    &o));
  EXPECT_EQ(std::string(o.dir), "/tmp/x");
  EXPECT_EQ(o.ring_events, 4096u); // rounded up to a power of two
  EXPECT_FALSE(o.events);
  EXPECT_EQ(o.stack_sample, 0u);
  EXPECT_EQ(o.max_frames, 8u);
  EXPECT_TRUE(o.off);
}

TEST(Options, BadValuesTurnTracingOff) {
  Options o;
  EXPECT_FALSE(parse({"VALLEY_RING_EVENTS=lots"}, &o));
  EXPECT_FALSE(parse({"VALLEY_RING_EVENTS=10"}, &o));        // below the minimum
  EXPECT_FALSE(parse({"VALLEY_MAX_FRAMES=63"}, &o));         // above the maximum
  EXPECT_FALSE(parse({"VALLEY_EVENTS=yes"}, &o));
  EXPECT_FALSE(parse({"VALLEY_STACK_SAMPLE=-1"}, &o));
  EXPECT_FALSE(parse({"VALLEY_DIR="}, &o));
  EXPECT_FALSE(parse({"VALLEY_RING_EVENTS=99999999999999999999999"}, &o));
}

TEST(Options, UnknownNamesAreIgnored) {
  Options o;
  EXPECT_TRUE(parse({"VALLEY_DRI=/tmp/typo"}, &o));
  EXPECT_EQ(std::string(o.dir), "");
}
