// SPDX-License-Identifier: MIT
// The what-if replay against counts worked out by hand.
#include "report_model.h"

#include <gtest/gtest.h>

using namespace valley;
using namespace valley::advisor;

namespace {

SiteAgg site(Op op, FdKind kind) {
  SiteAgg a;
  a.op = static_cast<uint8_t>(op);
  a.kind = static_cast<uint8_t>(kind);
  a.output = op_is_output(op);
  a.positional = op == Op::pread;
  return a;
}

EventRecord ev(Op op, int fd, uint32_t size, int32_t result, uint64_t ticks, int64_t offset = -1) {
  EventRecord e{};
  e.op = static_cast<uint8_t>(op);
  e.fd = fd;
  e.size = size;
  e.result = result;
  e.ticks = ticks;
  e.offset = offset;
  e.fd_kind = static_cast<uint8_t>(FdKind::regular);
  return e;
}

} // namespace

// 100 writes of 100 B into a 4096 B buffer, a read of the fd after the 50th:
// flush at the 41st write (40 held), the read flushes 41..50, flush at the 91st, the end
// flushes 91..100: 4 syscalls.
TEST(Replay, WritesFlushOnSizeOnReadAndAtTheEnd) {
  AdvisorSettings s;
  s.buffer_sizes = {4096};
  std::vector<SiteAgg> sites{site(Op::write, FdKind::regular), site(Op::read, FdKind::regular)};
  sites[0].calls = 100;
  EventPass pass(sites, s, 1.0);
  uint64_t t = 0;
  for (int i = 1; i <= 100; ++i) {
    pass.event(ev(Op::write, 3, 100, 100, t += 1000), 0);
    if (i == 50) pass.event(ev(Op::read, 3, 10, 0, t += 1000), 1);
  }
  pass.finish();
  EXPECT_DOUBLE_EQ(sites[0].replay[0].syscalls_after, 4.0);
}

// With a 1 ms age limit, writes 2 ms apart never share a buffer.
TEST(Replay, AgeLimitFlushes) {
  AdvisorSettings s;
  s.buffer_sizes = {65536};
  s.max_age_ms = 1;
  std::vector<SiteAgg> sites{site(Op::write, FdKind::regular)};
  EventPass pass(sites, s, 1.0);
  for (int i = 0; i < 10; ++i) pass.event(ev(Op::write, 3, 10, 10, 2'000'000ull * (i + 1)), 0);
  pass.finish();
  EXPECT_DOUBLE_EQ(sites[0].replay[0].syscalls_after, 10.0);
}

// Two sites alternating on one fd share each flush.
TEST(Replay, SharedFlushesAreSplitBetweenSites) {
  AdvisorSettings s;
  s.buffer_sizes = {4096};
  std::vector<SiteAgg> sites{site(Op::write, FdKind::regular), site(Op::write, FdKind::regular)};
  EventPass pass(sites, s, 1.0);
  uint64_t t = 0;
  for (int i = 0; i < 10; ++i) {
    pass.event(ev(Op::write, 3, 5, 5, t += 10), 0);
    pass.event(ev(Op::write, 3, 1, 1, t += 10), 1);
  }
  pass.finish();
  EXPECT_DOUBLE_EQ(sites[0].replay[0].syscalls_after, 0.5);
  EXPECT_DOUBLE_EQ(sites[1].replay[0].syscalls_after, 0.5);
}

// 10000 reads of 1 B (full) then EOF: one 4096 B read serves 4096 of them: ceil(10000/4096) = 3
// reads, plus the EOF read: 4.
TEST(Replay, BufferedReaderCounts) {
  AdvisorSettings s;
  s.buffer_sizes = {4096};
  std::vector<SiteAgg> sites{site(Op::read, FdKind::regular)};
  EventPass pass(sites, s, 1.0);
  uint64_t t = 0;
  for (int i = 0; i < 10000; ++i) pass.event(ev(Op::read, 3, 1, 1, t += 10), 0);
  pass.event(ev(Op::read, 3, 1, 0, t += 10), 0);
  pass.finish();
  EXPECT_DOUBLE_EQ(sites[0].replay[0].syscalls_after, 4.0);
}

// Sequential preads: offsets continue; a jump costs a read.
TEST(Replay, SequentialPreadsAndAJump) {
  AdvisorSettings s;
  s.buffer_sizes = {4096};
  std::vector<SiteAgg> sites{site(Op::pread, FdKind::regular)};
  EventPass pass(sites, s, 1.0);
  uint64_t t = 0;
  for (int i = 0; i < 64; ++i) pass.event(ev(Op::pread, 3, 128, 128, t += 10, i * 128), 0);
  pass.event(ev(Op::pread, 3, 128, 128, t += 10, 1 << 20), 0);
  pass.finish();
  EXPECT_DOUBLE_EQ(sites[0].replay[0].syscalls_after, 3.0); // 0..4095, 4096..8191, the jump
  EXPECT_EQ(sites[0].sequential, 63u);
}
