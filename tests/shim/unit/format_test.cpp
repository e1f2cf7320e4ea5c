// SPDX-License-Identifier: MIT
// The format's helpers: buckets, counter keys and names round-trip.
#include "valley/format.h"

#include <gtest/gtest.h>
#include <set>
#include <string>

using namespace valley;

TEST(Format, Buckets) {
  EXPECT_EQ(bucket_of(0), 0u);
  EXPECT_EQ(bucket_of(1), 1u);
  EXPECT_EQ(bucket_of(2), 2u);
  EXPECT_EQ(bucket_of(3), 2u);
  EXPECT_EQ(bucket_of(4), 3u);
  EXPECT_EQ(bucket_of(65535), 16u);
  EXPECT_EQ(bucket_of(65536), 17u);
  EXPECT_EQ(bucket_of(~uint64_t{0}), kHistBuckets - 1);
}

TEST(Format, CounterKeysRoundTrip) {
  for (uint32_t site : {0u, 1u, 4095u, kSiteUnknown}) {
    uint64_t k = counter_key(site, Op::recvmmsg, FdKind::unix_seqpacket);
    EXPECT_NE(k, 0u);
    EXPECT_NE(k, kCatchAllKey);
    EXPECT_EQ(key_site(k), site);
    EXPECT_EQ(key_op(k), Op::recvmmsg);
    EXPECT_EQ(key_kind(k), FdKind::unix_seqpacket);
  }
}

TEST(Format, EveryOpAndKindHasAName) {
  for (uint8_t v = 1; v <= kOpMax; ++v) EXPECT_NE(op_name(static_cast<Op>(v)), nullptr) << int(v);
  for (uint8_t v = 0; v <= kFdKindMax; ++v)
    EXPECT_NE(fd_kind_name(static_cast<FdKind>(v)), nullptr) << int(v);
  EXPECT_TRUE(op_is_output(Op::sendmmsg));
  EXPECT_FALSE(op_is_output(Op::recvfrom_chk));
  EXPECT_EQ(std::string(op_name(Op::pread64_chk)), "pread64_chk");
}

// The values the advisor's traces use (append only); the direction and kernel columns decide
// what the report and the coverage figures count.
TEST(Format, OpPropertiesComeFromTheTable) {
  EXPECT_EQ(static_cast<int>(Op::fsync), 30);
  EXPECT_EQ(static_cast<int>(Op::sendfile), 34);
  EXPECT_EQ(static_cast<int>(Op::unlink), 40);
  EXPECT_EQ(kOpMax, 40);
  for (Op op : {Op::fsync, Op::fdatasync, Op::sync_file_range, Op::msync, Op::sendfile, Op::splice,
                Op::tee, Op::copy_file_range, Op::open, Op::close, Op::unlink}) {
    EXPECT_FALSE(op_moves_data(op)) << op_name(op);
    EXPECT_FALSE(op_is_output(op)) << op_name(op);
  }
  EXPECT_TRUE(op_moves_data(Op::recv) && op_moves_data(Op::write));
  EXPECT_TRUE(op_kernel_reads(Op::sendfile) && op_kernel_writes(Op::sendfile));
  EXPECT_TRUE(op_kernel_reads(Op::copy_file_range) && op_kernel_writes(Op::copy_file_range));
  EXPECT_FALSE(op_kernel_reads(Op::splice) || op_kernel_writes(Op::tee));
  EXPECT_FALSE(op_kernel_writes(Op::send)) << "sockets are not in syscw";
  EXPECT_TRUE(op_kernel_reads(Op::pread64_chk) && !op_kernel_writes(Op::pread64_chk));
  EXPECT_TRUE(op_is_positional(Op::pwritev64v2) && !op_is_positional(Op::writev));
  EXPECT_TRUE(op_is_mmsg(Op::recvmmsg) && !op_is_mmsg(Op::recvmsg));
}

// The sets the hooks and the advisor derive from ops.def's flags, spelled out once here: the
// coalescer may absorb only write, writev and send; the send/recv families are the socket
// calls /proc/PID/io leaves out; a run record stands only for a stream write.
TEST(Format, OpSetsFromTheFlags) {
  std::set<std::string> coalescible, socket, stream_write, copies;
  for (uint8_t o = 1; o <= kOpMax; ++o) {
    const auto op = static_cast<Op>(o);
    if (op_is_coalescible(op)) coalescible.insert(op_name(op));
    if (op_is_socket(op)) socket.insert(op_name(op));
    if (op_is_stream_write(op)) stream_write.insert(op_name(op));
    if (op_kernel_reads(op) && op_kernel_writes(op)) copies.insert(op_name(op));
  }
  EXPECT_EQ(coalescible, (std::set<std::string>{"write", "writev", "send"}));
  EXPECT_EQ(socket, (std::set<std::string>{"send", "sendto", "sendmsg", "sendmmsg", "recv",
                                           "recvfrom", "recvmsg", "recvmmsg", "recv_chk",
                                           "recvfrom_chk"}));
  EXPECT_EQ(stream_write, (std::set<std::string>{"write", "writev", "send", "sendto", "sendmsg"}));
  EXPECT_EQ(copies, (std::set<std::string>{"sendfile", "copy_file_range"}));
  EXPECT_TRUE(op_is_vector(Op::preadv2) && !op_is_vector(Op::pread));
  EXPECT_TRUE(op_is_msg(Op::sendmsg) && !op_is_msg(Op::sendmmsg));
}
