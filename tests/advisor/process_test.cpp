// SPDX-License-Identifier: MIT
// Process relations (start, fork, exec, pid reuse), end states, clock calibration, argv.
#include "process.h"
#include "trace_builder.h"

#include <gtest/gtest.h>

using namespace valley;
using namespace valley::advisor;
using valley::testing::TempDir;
using valley::testing::TraceBuilder;

namespace {

TEST(Calibrate, TwoPoints) {
  SegmentHeader h{};
  h.calib_ticks0 = 1000;
  h.calib_ns0 = 500;
  h.calib_ticks1 = 4000;
  h.calib_ns1 = 1500;
  Clock c = calibrate(h);
  EXPECT_DOUBLE_EQ(c.ns_per_tick, 1000.0 / 3000.0);
  EXPECT_EQ(c.note, "");
}

TEST(Calibrate, OnePointFallsBackAndSaysSo) {
  SegmentHeader h{};
  h.calib_ticks0 = h.calib_ticks1 = 1000;
  h.calib_ns0 = h.calib_ns1 = 7;
  Clock c = calibrate(h);
  EXPECT_DOUBLE_EQ(c.ns_per_tick, 1.0);
  EXPECT_EQ(c.note, "one calibration point only; assuming 1 ns per tick");
}

TEST(Calibrate, BackwardsFallsBack) {
  SegmentHeader h{};
  h.calib_ticks0 = 1000;
  h.calib_ticks1 = 2000;
  h.calib_ns0 = 50;
  h.calib_ns1 = 50;
  EXPECT_DOUBLE_EQ(calibrate(h).ns_per_tick, 1.0);
  EXPECT_NE(calibrate(h).note, "");
}

TEST(SplitCmdline, NulSeparated) {
  const char data[] = "ls\0-l\0two words\0";
  EXPECT_EQ(split_cmdline(data, sizeof data - 1),
            (std::vector<std::string>{"ls", "-l", "two words"}));
  EXPECT_EQ(split_cmdline(data, 5), (std::vector<std::string>{"ls", "-l"}))
      << "a cut last argument is kept";
  EXPECT_TRUE(split_cmdline(data, 0).empty());
  const char empty_arg[] = "a\0\0b";
  EXPECT_EQ(split_cmdline(empty_arg, 4), (std::vector<std::string>{"a", "", "b"}));
}

class RelationsTest : public ::testing::Test {
protected:
  TempDir dir;
  RunDir read() { return read_run_dir(dir.path()); }
  static const Trace& find(const RunDir& run, const std::string& name) {
    for (const Trace& t : run.traces)
      if (t.name == name) return t;
    throw std::runtime_error("no trace " + name);
  }
};

TEST_F(RelationsTest, StartForkExecAndPidReuse) {
  TraceBuilder parent(100);
  parent.header.state = kStateFinished;
  parent.write(dir.path());

  TraceBuilder child(101);
  child.header.origin = Origin::fork;
  child.header.parent_pid = 100;
  child.header.parent_seq = 0;
  child.header.ppid = 100;
  child.header.state = kStateExec;
  child.write(dir.path());

  TraceBuilder exec_image(101, 1);
  exec_image.header.proc_start_ticks = child.header.proc_start_ticks;
  exec_image.header.state = 0; // killed
  exec_image.set_cmdline({"/bin/true"});
  exec_image.write(dir.path());

  TraceBuilder reused(100, 1);
  reused.header.proc_start_ticks = parent.header.proc_start_ticks + 99;
  reused.write(dir.path());

  RunDir run = read();
  ASSERT_EQ(run.traces.size(), 4u);

  ProcessInfo p = describe(find(run, "100-0"), run);
  EXPECT_EQ(p.origin, ProcessOrigin::start);
  EXPECT_FALSE(p.parent);
  EXPECT_EQ(p.end, ProcessEnd::finished);
  EXPECT_EQ(p.argv, (std::vector<std::string>{"victim", "--flag", "two words"}));
  EXPECT_DOUBLE_EQ(p.clock.ns_per_tick, 0.5);
  EXPECT_DOUBLE_EQ(p.duration_ns, 1'000'000.0);

  ProcessInfo c = describe(find(run, "101-0"), run);
  EXPECT_EQ(c.origin, ProcessOrigin::fork);
  ASSERT_TRUE(c.parent);
  EXPECT_EQ(c.parent->pid, 100u);
  EXPECT_EQ(c.parent->seq, 0u);
  EXPECT_EQ(c.end, ProcessEnd::exec);

  ProcessInfo e = describe(find(run, "101-1"), run);
  EXPECT_EQ(e.origin, ProcessOrigin::exec);
  ASSERT_TRUE(e.parent);
  EXPECT_EQ(e.parent->pid, 101u);
  EXPECT_EQ(e.parent->seq, 0u);
  EXPECT_EQ(e.end, ProcessEnd::killed);
  EXPECT_EQ(e.argv, (std::vector<std::string>{"/bin/true"}));

  ProcessInfo r = describe(find(run, "100-1"), run);
  EXPECT_EQ(r.origin, ProcessOrigin::start);
  EXPECT_TRUE(r.pid_reused);
  EXPECT_FALSE(r.parent);
}

TEST_F(RelationsTest, NamesOfStates) {
  EXPECT_STREQ(end_name(ProcessEnd::killed), "killed-or-crashed");
  EXPECT_STREQ(origin_name(ProcessOrigin::exec), "exec");
}

} // namespace
