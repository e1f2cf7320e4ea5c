// SPDX-License-Identifier: MIT
// Rules on calls written out in the test (event_model.h): each must fire on its pattern and
// stay quiet otherwise.
#include "event_model.h"
#include "report.h"

#include <gtest/gtest.h>

using namespace valley;
using namespace valley::advisor;
using valley::testing::EventModel;

namespace {

using V = std::vector<std::string>;

std::vector<std::string> ids(const std::vector<Finding>& fs) {
  std::vector<std::string> out;
  for (const Finding& f : fs) out.push_back(f.rule);
  return out;
}

// `calls` calls of `size` bytes on fd 3, `gap` ticks apart (1 ns each).
std::vector<std::string> rules_for(Op op, FdKind kind, int calls, uint32_t size, uint64_t gap,
                                   const AdvisorSettings& s = {}) {
  EventModel em;
  em.s = s;
  const int a = em.site(op, kind, "f");
  for (int i = 0; i < calls; ++i)
    em.call(a, 3, size, static_cast<int32_t>(size), 1000 + gap * static_cast<uint64_t>(i));
  RunModel m = em.model();
  return ids(evaluate_rules(m, em.s));
}

// Request/response on one socket: `pieces` sends of `size` bytes, then a recv of the answer
// that waits `wait` ns, `n` times.
EventModel request_response(int n, int pieces, uint32_t size, uint64_t wait, FdKind kind) {
  EventModel em;
  const int header = em.site(Op::send, kind, "header");
  const int body = em.site(Op::send, kind, "body");
  const int answer = em.site(Op::recv, kind, "answer");
  uint64_t t = 1000;
  for (int i = 0; i < n; ++i) {
    for (int p = 0; p < pieces; ++p) em.call(p == 0 ? header : body, 4, size, static_cast<int32_t>(size), t += 2000, 1500);
    em.call(answer, 4, 64, 16, t += 2000, static_cast<uint32_t>(wait));
    t += wait;
  }
  return em;
}

} // namespace

TEST(SmallWrites, FiresOnManySmallFileWrites) {
  EXPECT_EQ(rules_for(Op::write, FdKind::regular, 5000, 12, 1000), V{"small-writes"});
}
TEST(SmallWrites, QuietOnLargeWrites) {
  EXPECT_EQ(rules_for(Op::write, FdKind::regular, 5000, 65536, 1000), V{});
  EXPECT_EQ(rules_for(Op::write, FdKind::regular, 5000, 32768, 1000), V{});
}
TEST(SmallWrites, QuietWhenFewCallsOrNoSaving) {
  EXPECT_EQ(rules_for(Op::write, FdKind::regular, 50, 12, 1000), V{});
  // Each write alone in time (10 ms apart, the age bound 5 ms): nothing to merge.
  EXPECT_EQ(rules_for(Op::write, FdKind::regular, 500, 12, 10'000'000), V{});
}
TEST(SmallWrites, NeverOnDatagrams) {
  // Sent 10 ms apart: nothing to batch into sendmmsg either.
  EXPECT_EQ(rules_for(Op::sendto, FdKind::udp, 500, 12, 10'000'000), V{});
}
TEST(SmallWrites, ThresholdComesFromSettings) {
  AdvisorSettings s;
  s.small_write_bytes = 8;
  EXPECT_EQ(rules_for(Op::write, FdKind::regular, 5000, 12, 1000, s), V{});
}

TEST(WriteGather, FiresOnHeaderBodyBeforeRead) {
  EventModel em = request_response(500, 2, 20, 3000, FdKind::unix_stream);
  RunModel m = em.model();
  std::vector<Finding> f = evaluate_rules(m, em.s);
  ASSERT_EQ(ids(f), V{"write-gather"});
  EXPECT_EQ(f[0].before, 1000u);
  EXPECT_DOUBLE_EQ(f[0].after, 500);
  EXPECT_NE(f[0].change.find("MSG_MORE"), std::string::npos);
  // The coalescer joins each burst and writes it before the read: one syscall per burst, as
  // the gather would make (issue 12: the config names the socket's kind).
  EXPECT_TRUE(f[0].coalescible);
  EXPECT_EQ(f[0].coalesce_kind, "unix-stream");
  ASSERT_TRUE(f[0].coalescer_after.has_value());
  EXPECT_DOUBLE_EQ(*f[0].coalescer_after, 500);
  EXPECT_EQ(f[0].coalescer_why, "");
  ASSERT_EQ(f[0].related.size(), 1u);
  EXPECT_EQ(f[0].related[0]->key, "body");
}
TEST(WriteGather, QuietOnSingleWritesPerRead) {
  EventModel em = request_response(500, 1, 20, 3000, FdKind::tcp);
  RunModel m = em.model();
  EXPECT_EQ(ids(evaluate_rules(m, em.s)), V{});
}

TEST(SmallReads, FiresOnByteReads) {
  EXPECT_EQ(rules_for(Op::read, FdKind::regular, 20000, 1, 100), V{"small-reads"});
}
TEST(SmallReads, QuietOnShortReads) {
  EventModel em;
  const int a = em.site(Op::recv, FdKind::unix_stream, "f");
  for (int i = 0; i < 20000; ++i) em.call(a, 3, 256, 25, 1000 + 100 * static_cast<uint64_t>(i));
  RunModel m = em.model(); // the socket had less than asked: a bigger buffer cannot help
  EXPECT_EQ(ids(evaluate_rules(m, em.s)), V{});
}
TEST(SmallReads, QuietOnLargeReads) {
  EXPECT_EQ(rules_for(Op::read, FdKind::regular, 20000, 65536, 100), V{});
}

// A pipe inherited as stdin, or read by another process too: reading ahead would take bytes
// that are the next reader's. A note, with no saving promised and no "read 4 KiB" advice.
TEST(SmallReads, SharedInputIsANoteWithoutReadAhead) {
  EventModel em;
  const int a = em.site(Op::read, FdKind::pipe, "read_builtin");
  em.at(a).shared_input = "fd 0 is inherited from the parent";
  for (int i = 0; i < 2000; ++i) em.call(a, 0, 1, 1, 1000 + 100 * static_cast<uint64_t>(i));
  RunModel m = em.model();
  std::vector<Finding> f = evaluate_rules(m, em.s);
  ASSERT_EQ(ids(f), V{"small-reads"});
  EXPECT_FALSE(f[0].promise);
  EXPECT_EQ(f[0].severity, "note");
  EXPECT_EQ(f[0].saved_wall_ns(), 0);
  EXPECT_DOUBLE_EQ(f[0].after, 2000);
  EXPECT_EQ(f[0].change.find("at a time"), std::string::npos) << f[0].change;
  EXPECT_NE(f[0].change.find("inherited"), std::string::npos) << f[0].change;
  EXPECT_TRUE(f[0].idiom.empty());
}

TEST(SequentialPread, FiresOnContiguousSmallPreads) {
  EventModel em;
  const int a = em.site(Op::pread, FdKind::regular, "f");
  for (int i = 0; i < 4096; ++i) em.call(a, 3, 128, 128, 1000 + 100 * static_cast<uint64_t>(i), 100, 128 * i);
  RunModel m = em.model();
  EXPECT_EQ(ids(evaluate_rules(m, em.s)), V{"sequential-pread"});
}
TEST(SequentialPread, QuietOnRandomOffsets) {
  EventModel em;
  const int a = em.site(Op::pread, FdKind::regular, "f");
  for (int i = 0; i < 4096; ++i)
    em.call(a, 3, 128, 128, 1000 + 100 * static_cast<uint64_t>(i), 100, (i * 7919 % 4096) * 4096);
  RunModel m = em.model();
  EXPECT_EQ(ids(evaluate_rules(m, em.s)), V{});
}

TEST(DatagramBatch, FiresOnBackToBackDatagrams) {
  EventModel em;
  const int a = em.site(Op::sendto, FdKind::udp, "f");
  for (int i = 0; i < 2000; ++i) em.call(a, 3, 40, 40, 1000 + 1000 * static_cast<uint64_t>(i));
  RunModel m = em.model();
  std::vector<Finding> f = evaluate_rules(m, em.s);
  ASSERT_EQ(ids(f), V{"datagram-batch"});
  EXPECT_DOUBLE_EQ(f[0].after, 63); // ceil(2000 / 32)
  EXPECT_NE(f[0].change.find("sendmmsg"), std::string::npos);
  EXPECT_FALSE(f[0].coalescible); // never merged into one buffer
}
TEST(DatagramBatch, QuietWhenAlreadyBatchedOrSpread) {
  EXPECT_EQ(rules_for(Op::sendmmsg, FdKind::udp, 200, 320, 1000), V{});
  EXPECT_EQ(rules_for(Op::sendto, FdKind::udp, 2000, 40, 10'000'000), V{}); // each alone in time
}

TEST(Ranking, BiggerWallTimeSavingFirst) {
  EventModel em;
  const int w = em.site(Op::write, FdKind::regular, "a");
  const int r = em.site(Op::read, FdKind::regular, "b");
  uint64_t t = 1000;
  for (int i = 0; i < 1000; ++i) em.call(w, 3, 12, 12, t += 1000, 100);
  for (int i = 0; i < 20000; ++i) em.call(r, 4, 1, 1, t += 1000, 100);
  RunModel m = em.model();
  std::vector<Finding> f = evaluate_rules(m, em.s);
  ASSERT_EQ(ids(f), (V{"small-reads", "small-writes"}));
  EXPECT_GT(f[0].saved_wall_ns(), f[1].saved_wall_ns());
}

TEST(Language, RecognisedFromFramesAndModules) {
  SiteAgg a;
  Frame py;
  py.module = "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0";
  a.stacks.push_back({{py}, 1});
  EXPECT_EQ(language_of(a), Language::python);
  SiteAgg b;
  b.frame.module = "/usr/lib/x86_64-linux-gnu/libc.so.6";
  b.frame.function = "_IO_file_write";
  EXPECT_EQ(language_of(b), Language::c_stdio);
  SiteAgg c; // Debian's python3.11 links libpython in: the process says so
  c.runtimes = kRuntimePython;
  EXPECT_EQ(language_of(c), Language::python);
  SiteAgg d;
  d.runtimes = kRuntimePerl;
  EXPECT_EQ(language_of(d), Language::perl);
  SiteAgg e;
  e.runtimes = kRuntimeCxx;
  EXPECT_EQ(language_of(e), Language::cpp);
  EXPECT_EQ(language_of(SiteAgg{}), Language::c);
}

// "In C" is for C programs: a Perl program's small writes get Perl's idiom.
TEST(Language, IdiomFollowsTheProgram) {
  EventModel em;
  const int a = em.site(Op::write, FdKind::regular, "f");
  em.at(a).runtimes = kRuntimePerl;
  for (int i = 0; i < 5000; ++i) em.call(a, 3, 12, 12, 1000 + 1000 * static_cast<uint64_t>(i));
  RunModel m = em.model();
  std::vector<Finding> f = evaluate_rules(m, em.s);
  ASSERT_EQ(ids(f), V{"small-writes"});
  EXPECT_EQ(f[0].language, Language::perl);
  EXPECT_NE(f[0].idiom.find("$|"), std::string::npos) << f[0].idiom;
}

TEST(EmitConfig, OnlyCoalescibleStreamSitesInTheShimSubset) {
  EventModel em;
  const int w = em.site(Op::write, FdKind::regular, "w");
  const int d = em.site(Op::sendto, FdKind::udp, "d");
  uint64_t t = 1000;
  for (int i = 0; i < 5000; ++i) em.call(w, 3, 12, 12, t += 1000);
  for (int i = 0; i < 2000; ++i) em.call(d, 4, 40, 40, t += 1000);
  RunModel m = em.model();
  std::string cfg = coalesce_config(evaluate_rules(m, em.s), {});
  EXPECT_NE(cfg.find("enabled = true\n"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("sites = [\"victim+0x1000\"]\n"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("kinds = [\"file\"]\n"), std::string::npos) << cfg;
  EXPECT_EQ(cfg.find("0x1010"), std::string::npos) << cfg;
}
