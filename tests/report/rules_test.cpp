// SPDX-License-Identifier: MIT
// Rules on synthetic aggregated sites: each must fire on its pattern and stay quiet otherwise.
#include "report.h"
#include "rules/rule.h"

#include <gtest/gtest.h>

using namespace valley;
using namespace valley::advisor;

namespace {

// A site with `calls` calls of `size` bytes and a replay that leaves `after` syscalls.
SiteAgg make(Op op, FdKind kind, uint64_t calls, uint32_t size, double after) {
  SiteAgg a;
  a.key = "victim:f:f.c:1";
  a.op = static_cast<uint8_t>(op);
  a.kind = static_cast<uint8_t>(kind);
  a.output = op_is_output(op);
  a.positional = op == Op::pread;
  a.calls = a.events = calls;
  a.bytes = a.requested = calls * size;
  a.time_ns = static_cast<double>(calls) * 1000;
  a.sizes[size] = calls;
  a.frame.function = "f";
  a.replay.push_back({4096, after, 0, 0, 1});
  a.replay.push_back({65536, after, 0, 0, 1});
  return a;
}

std::vector<std::string> rules_for(const SiteAgg& a, const AdvisorSettings& s = {}) {
  RunModel m;
  m.sites.push_back(a);
  std::vector<std::string> ids;
  for (const Finding& f : evaluate_rules(m, s)) ids.push_back(f.rule);
  return ids;
}

using V = std::vector<std::string>;

} // namespace

TEST(SmallWrites, FiresOnManySmallFileWrites) {
  EXPECT_EQ(rules_for(make(Op::write, FdKind::regular, 5000, 12, 15)), V{"small-writes"});
}
TEST(SmallWrites, QuietOnLargeWrites) {
  EXPECT_EQ(rules_for(make(Op::write, FdKind::regular, 5000, 65536, 5000)), V{});
  EXPECT_EQ(rules_for(make(Op::write, FdKind::regular, 5000, 32768, 100)), V{});
}
TEST(SmallWrites, QuietWhenFewCallsOrNoSaving) {
  EXPECT_EQ(rules_for(make(Op::write, FdKind::regular, 50, 12, 1)), V{});
  EXPECT_EQ(rules_for(make(Op::write, FdKind::regular, 5000, 12, 4900)), V{});
}
TEST(SmallWrites, NeverOnDatagrams) {
  SiteAgg a = make(Op::sendto, FdKind::udp, 5000, 12, 15);
  a.datagram_runs = 5000; // sent with pauses: nothing to batch either
  EXPECT_EQ(rules_for(a), V{});
}
TEST(SmallWrites, ThresholdComesFromSettings) {
  AdvisorSettings s;
  s.small_write_bytes = 8;
  EXPECT_EQ(rules_for(make(Op::write, FdKind::regular, 5000, 12, 15), s), V{});
}

TEST(WriteGather, FiresOnHeaderBodyBeforeRead) {
  SiteAgg a = make(Op::send, FdKind::tcp, 500, 20, 500);
  a.gather_bursts = 500;
  a.gather_burst_calls = 1000;
  a.gather_calls = 500;
  RunModel m;
  m.sites.push_back(a);
  std::vector<Finding> f = evaluate_rules(m, {});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].rule, "write-gather");
  EXPECT_EQ(f[0].before, 1000u);
  EXPECT_DOUBLE_EQ(f[0].after, 500);
  EXPECT_NE(f[0].change.find("MSG_MORE"), std::string::npos);
  EXPECT_FALSE(f[0].coalescible);
}
TEST(WriteGather, BodySiteIsNotAlsoSmallWrites) {
  SiteAgg a = make(Op::send, FdKind::tcp, 500, 20, 250);
  a.gather_calls = 500; // the second write of every burst
  EXPECT_EQ(rules_for(a), V{});
}
TEST(WriteGather, QuietOnSingleWritesPerRead) {
  SiteAgg a = make(Op::send, FdKind::tcp, 500, 20, 500);
  a.gather_bursts = 0;
  EXPECT_EQ(rules_for(a), V{});
}

TEST(SmallReads, FiresOnByteReads) {
  EXPECT_EQ(rules_for(make(Op::read, FdKind::regular, 20000, 1, 6)), V{"small-reads"});
}
TEST(SmallReads, QuietOnShortReads) {
  SiteAgg a = make(Op::recv, FdKind::unix_stream, 20000, 256, 6);
  a.bytes = a.requested / 10; // the socket had less than asked: a bigger buffer cannot help
  EXPECT_EQ(rules_for(a), V{});
}
TEST(SmallReads, QuietOnLargeReads) {
  EXPECT_EQ(rules_for(make(Op::read, FdKind::regular, 20000, 65536, 20000)), V{});
}

TEST(SequentialPread, FiresOnContiguousSmallPreads) {
  SiteAgg a = make(Op::pread, FdKind::regular, 4096, 128, 130);
  a.sequential = 4095;
  EXPECT_EQ(rules_for(a), V{"sequential-pread"});
}
TEST(SequentialPread, QuietOnRandomOffsets) {
  SiteAgg a = make(Op::pread, FdKind::regular, 4096, 128, 4000);
  a.sequential = 10;
  EXPECT_EQ(rules_for(a), V{});
}

TEST(DatagramBatch, FiresOnBackToBackDatagrams) {
  SiteAgg a = make(Op::sendto, FdKind::udp, 2000, 40, 2000);
  a.datagram_runs = 63;
  RunModel m;
  m.sites.push_back(a);
  std::vector<Finding> f = evaluate_rules(m, {});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].rule, "datagram-batch");
  EXPECT_NE(f[0].change.find("sendmmsg"), std::string::npos);
  EXPECT_FALSE(f[0].coalescible); // never merged into one buffer
}
TEST(DatagramBatch, QuietWhenAlreadyBatchedOrSpread) {
  SiteAgg a = make(Op::sendmmsg, FdKind::udp, 60, 320, 60);
  a.datagram_runs = 1;
  EXPECT_EQ(rules_for(a), V{});
  SiteAgg b = make(Op::sendto, FdKind::udp, 2000, 40, 2000);
  b.datagram_runs = 2000; // each one alone in time
  EXPECT_EQ(rules_for(b), V{});
}

TEST(Ranking, BiggerSavingFirst) {
  RunModel m;
  m.sites.push_back(make(Op::write, FdKind::regular, 1000, 12, 3));
  m.sites.back().key = "a";
  m.sites.push_back(make(Op::read, FdKind::regular, 20000, 1, 6));
  m.sites.back().key = "b";
  std::vector<Finding> f = evaluate_rules(m, {});
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].rule, "small-reads");
}

TEST(Language, RecognisedFromFrames) {
  SiteAgg a = make(Op::write, FdKind::regular, 5000, 12, 15);
  Frame py;
  py.module = "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0";
  a.stacks.push_back({{py}, 1});
  EXPECT_EQ(language_of(a), Language::python);
  SiteAgg b = make(Op::write, FdKind::regular, 5000, 12, 15);
  b.frame.module = "/usr/lib/x86_64-linux-gnu/libc.so.6";
  b.frame.function = "_IO_file_write";
  EXPECT_EQ(language_of(b), Language::c_stdio);
}

TEST(EmitConfig, OnlyCoalescibleStreamSitesInTheShimSubset) {
  RunModel m;
  m.sites.push_back(make(Op::write, FdKind::regular, 5000, 12, 15));
  m.sites.back().frame.module = "/x/victim";
  m.sites.back().shim_sites = {"victim+0x11c9"};
  SiteAgg d = make(Op::sendto, FdKind::udp, 2000, 40, 2000);
  d.datagram_runs = 63;
  d.frame.module = "/x/victim";
  d.shim_sites = {"victim+0x2000"};
  m.sites.push_back(d);
  std::string cfg = coalesce_config(evaluate_rules(m, {}), {});
  EXPECT_NE(cfg.find("enabled = true\n"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("sites = [\"victim+0x11c9\"]\n"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("kinds = [\"file\"]\n"), std::string::npos) << cfg;
  EXPECT_EQ(cfg.find("0x2000"), std::string::npos) << cfg;
}
