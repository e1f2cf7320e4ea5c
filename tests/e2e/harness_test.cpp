// SPDX-License-Identifier: MIT
// The harness can fail: each test below makes the traced run differ from the untraced one in
// one way (Case::traced_stages runs another command under the shim) and checks that
// Differential::differences() reports it. A harness that compared nothing would pass every
// case in programs_test.cpp; it cannot pass these.
#include "harness.h"

#include <gtest/gtest.h>

namespace valley::e2e {
namespace {

// True when some reported difference contains `what`.
bool reports(const std::vector<std::string>& diffs, const std::string& what) {
  for (const std::string& d : diffs)
    if (d.find(what) != std::string::npos) return true;
  return false;
}

TEST(Harness, SameCommandAgrees) {
  Differential d({.stages = {{"sh", "-c", "echo out; echo err >&2; printf data > f; exit 3"}},
                  .out_files = {"f"},
                  .expect_status = {"exit 3"}});
  EXPECT_TRUE(d.differences().empty()) << join(d.differences());
}

TEST(Harness, SeesDifferentStdout) {
  Differential d({.stages = {{"echo", "valley"}}, .traced_stages = {{"echo", "valleY"}}});
  EXPECT_TRUE(reports(d.differences(), "stdout: differ at byte 5")) << join(d.differences());
}

TEST(Harness, SeesDifferentStderr) {
  Differential d({.stages = {{"sh", "-c", "echo one >&2"}},
                  .traced_stages = {{"sh", "-c", "echo One >&2"}}});
  EXPECT_TRUE(reports(d.differences(), "stage 0 (sh) stderr: differ at byte 0"))
      << join(d.differences());
}

TEST(Harness, SeesDifferentExitStatus) {
  Differential d({.stages = {{"sh", "-c", "exit 3"}}, .traced_stages = {{"sh", "-c", "exit 4"}}});
  EXPECT_TRUE(reports(d.differences(), "without valley exit 3, with valley exit 4"))
      << join(d.differences());
}

// A shell reports both as 141; the harness must not.
TEST(Harness, SeesSignalVersusExitCode) {
  Differential d({.stages = {{"sh", "-c", "kill -PIPE $$"}},
                  .traced_stages = {{"sh", "-c", "exit 141"}}});
  EXPECT_TRUE(reports(d.differences(), "without valley signal SIGPIPE, with valley exit 141"))
      << join(d.differences());
}

TEST(Harness, SeesDifferentOutputFile) {
  Differential d({.stages = {{"sh", "-c", "printf abc > f"}},
                  .out_files = {"f"},
                  .traced_stages = {{"sh", "-c", "printf abd > f"}}});
  EXPECT_TRUE(reports(d.differences(), "file f: differ at byte 2")) << join(d.differences());
}

TEST(Harness, SeesMissingOutputFile) {
  Differential d({.stages = {{"sh", "-c", "printf abc > f"}},
                  .out_files = {"f"},
                  .traced_stages = {{"true"}}});
  EXPECT_TRUE(reports(d.differences(), "file f: exists only without valley"))
      << join(d.differences());
}

TEST(Harness, SeesDifferentTree) {
  Differential d({.stages = {{"sh", "-c", "mkdir -p t/a && echo 1 > t/a/x"}},
                  .out_dirs = {"t"},
                  .traced_stages = {{"sh", "-c", "mkdir -p t/a && echo 1 > t/a/y"}}});
  EXPECT_TRUE(reports(d.differences(), "tree t differs")) << join(d.differences());
}

TEST(Harness, SeesOneStageOfAPipeline) {
  Differential d({.stages = {{"printf", "a\\nb\\n"}, {"sh", "-c", "cat; exit 0"}},
                  .traced_stages = {{"printf", "a\\nb\\n"}, {"sh", "-c", "cat; exit 5"}}});
  EXPECT_TRUE(reports(d.differences(), "stage 1 (sh) ended differently")) << join(d.differences());
  EXPECT_FALSE(reports(d.differences(), "stdout")) << join(d.differences());
}

// A hang under the shim ends as `timeout`'s 124 and is reported; 1 s instead of 60 here.
TEST(Harness, SeesHang) {
  Differential d({.stages = {{"true"}},
                  .traced_stages = {{"sleep", "30"}},
                  .timeout_seconds = 1});
  EXPECT_TRUE(reports(d.differences(), "with valley timed out")) << join(d.differences());
  EXPECT_LT(d.traced().seconds, 10);
}

TEST(Harness, SeesUnexpectedBaseline) {
  Differential d({.stages = {{"false"}}, .expect_status = {"exit 0"}});
  EXPECT_TRUE(reports(d.differences(), "expected exit 0, got exit 1")) << join(d.differences());
}

// The trace checks see a process that died, unless the case says it may.
TEST(Harness, TraceCheckSeesKilledProcess) {
  Differential d({.stages = {{"yes"}, {"head", "-1"}}});
  EXPECT_TRUE(d.differences().empty()) << join(d.differences());
  EXPECT_TRUE(reports(trace_violations(d), "(yes): state killed-or-crashed"))
      << join(trace_violations(d));
  EXPECT_TRUE(trace_violations(d, {"yes"}).empty()) << join(trace_violations(d, {"yes"}));
}

// The counts are exact to one call: dd with one block more or less moves them by one, so the
// 5000 asserted in Dd.ByteAtATimeFromZeroToFile cannot be met by 4999 or 5001.
TEST(Harness, CountsMoveByOne) {
  for (int n : {4999, 5001}) {
    Differential d({.stages = {{"dd", "if=/dev/zero", "of=out", "bs=1", "count=" + std::to_string(n),
                                "status=noxfer"}}});
    EXPECT_TRUE(trace_violations(d).empty()) << join(trace_violations(d));
    ASSERT_EQ(traces(d.dump()).size(), 1u);
    const json& dd = traces(d.dump())[0];
    EXPECT_EQ(totals(dd, "read", "chardev").calls, static_cast<uint64_t>(n));
    EXPECT_EQ(totals(dd, "write", "file").calls, static_cast<uint64_t>(n));
    EXPECT_NE(totals(dd, "write", "file").calls, 5000u);
  }
}

} // namespace
} // namespace valley::e2e
