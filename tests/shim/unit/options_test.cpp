// SPDX-License-Identifier: MIT
// VALLEY_* settings: defaults from the settings table, valid values, a bad value turning tracing
// off, a bad coalescing value (or config file) turning only coalescing off.
#include "options.h"

#include <cstring>
#include <filesystem>
#include <fstream>
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
  EXPECT_EQ(o.ring_events, 4096u);
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

TEST(Options, DefaultsComeFromTheSettingsTable) {
  Options o;
  ASSERT_TRUE(parse({}, &o));
  EXPECT_FALSE(o.coalesce.on);
  EXPECT_EQ(o.coalesce.size, 65536u);
  EXPECT_EQ(o.coalesce.max_age_us, 5000u);
  EXPECT_EQ(o.coalesce.kinds, 1u << static_cast<uint8_t>(valley::FdKind::regular));
  EXPECT_EQ(std::string(o.coalesce.paths), "");
  EXPECT_EQ(std::string(o.coalesce.sites), "");
}

TEST(Options, CoalescingValuesAreRead) {
  Options o;
  ASSERT_TRUE(
      parse({"VALLEY_COALESCE=1", "VALLEY_COALESCE_SIZE=4096", "VALLEY_COALESCE_MAX_AGE_MS=20",
             "VALLEY_COALESCE_KINDS=pipe,tcp", "VALLEY_COALESCE_PATHS=/a/*:/b/*.log",
             "VALLEY_COALESCE_SITES=libstdc++.so.6+0x1a2b,app+0x0"},
            &o));
  EXPECT_TRUE(o.coalesce.on);
  EXPECT_EQ(o.coalesce.size, 4096u);
  EXPECT_EQ(o.coalesce.max_age_us, 20000u);
  EXPECT_EQ(o.coalesce.kinds, (1u << static_cast<uint8_t>(valley::FdKind::pipe)) |
                                  (1u << static_cast<uint8_t>(valley::FdKind::tcp)));
  EXPECT_EQ(std::string(o.coalesce.paths), "/a/*:/b/*.log");
  EXPECT_EQ(std::string(o.coalesce.sites), "libstdc++.so.6+0x1a2b,app+0x0");
}

// A bad coalescing value costs the coalescer, never the trace; and it is refused, not wrapped
// or cut into something else.
TEST(Options, BadCoalescingValuesTurnOnlyCoalescingOff) {
  const std::string glob256 = "/" + std::string(254, 'g') + "*";
  std::string many; // 20 globs of 250 bytes: more than the 4095 bytes the shim holds
  for (int i = 0; i < 20; ++i)
    many += (i ? ":/" : "/") + std::string(249, 'a' + i % 26);
  for (const std::string& bad :
       {std::string("VALLEY_COALESCE_SIZE=18446744073709552128"),
        std::string("VALLEY_COALESCE_SIZE=511"), std::string("VALLEY_COALESCE_MAX_AGE_MS=0"),
        std::string("VALLEY_COALESCE_KINDS="), std::string("VALLEY_COALESCE_KINDS=file,,pipe"),
        std::string("VALLEY_COALESCE_KINDS=udp"), "VALLEY_COALESCE_PATHS=" + glob256,
        std::string("VALLEY_COALESCE_PATHS=/a::/b"), "VALLEY_COALESCE_PATHS=" + many,
        std::string("VALLEY_COALESCE_SITES=app+0x00ff"),
        std::string("VALLEY_COALESCE_SITES=app+0x1,"), std::string("VALLEY_COALESCE_STDIO=2"),
        "VALLEY_CONFIG=/" + std::string(1100, 'c')}) {
    SCOPED_TRACE(bad.substr(0, 60));
    Options o;
    ASSERT_TRUE(parse({"VALLEY_COALESCE=1", bad}, &o));
    EXPECT_FALSE(o.coalesce.on);
  }
  Options o;
  ASSERT_TRUE(
      parse({"VALLEY_COALESCE=1", "VALLEY_COALESCE_PATHS=/" + std::string(253, 'g') + "*"}, &o));
  EXPECT_TRUE(o.coalesce.on); // 255 bytes: the longest glob
  EXPECT_EQ(strlen(o.coalesce.paths), 255u);
}

TEST(Options, ConfigFileFirstThenTheEnvironment) {
  char dir[] = "/tmp/valley-options-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string good = std::string(dir) + "/good.toml", bad = std::string(dir) + "/bad.toml";
  std::ofstream(good) << "[coalesce]\nenabled = true\nbuffer_size = 4096\nkinds = [\"pipe\"]\n";
  std::ofstream(bad) << "[coalesce]\nenabled = true\nbuffer_size = 4096\nbufer_size = 8192\n";
  Options o;
  ASSERT_TRUE(parse({"VALLEY_COALESCE_SIZE=8192", "VALLEY_CONFIG=" + good}, &o));
  EXPECT_TRUE(o.coalesce.on);
  EXPECT_EQ(o.coalesce.size, 8192u); // the variable wins, wherever it is in the environment
  EXPECT_EQ(o.coalesce.kinds, 1u << static_cast<uint8_t>(valley::FdKind::pipe));
  ASSERT_TRUE(parse({"VALLEY_CONFIG=" + bad, "VALLEY_COALESCE=1"}, &o));
  EXPECT_FALSE(o.coalesce.on);
  EXPECT_EQ(o.coalesce.size, 65536u); // nothing of the refused file is kept
  std::filesystem::remove_all(dir);
}
