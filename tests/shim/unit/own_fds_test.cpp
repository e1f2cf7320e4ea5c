// SPDX-License-Identifier: MIT
// I-19: the fds valley opens for itself (drains to the .vev file, the segment file, /proc
// files) leave the low numbers at once, so a program thread that closes fd N and opens or
// dup2s onto it while another thread is inside valley finds N free.
#include "sys.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

using namespace valley::shim;

namespace {

// The lowest free fd number, as open() would return it.
int lowest_free() {
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ::close(fd);
  return fd;
}

TEST(OwnFds, OpenTakesANumberAboveTheProgramsAndLeavesTheLowOneFree) {
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_cur < sys::kHighFd + 64) GTEST_SKIP() << "RLIMIT_NOFILE " << lim.rlim_cur;
  const int low = lowest_free();
  const int fd = sys::open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, sys::kHighFd);
  EXPECT_EQ(lowest_free(), low) << "the number open() took for a moment is free again";
  EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  sys::close(fd);
}

TEST(OwnFds, UnderATightLimitTheFdStaysWhereOpenPutIt) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit tight = saved;
  tight.rlim_cur = 100;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
  const int low = lowest_free();
  const int fd = sys::open("/dev/null", O_RDONLY);
  setrlimit(RLIMIT_NOFILE, &saved);
  EXPECT_EQ(fd, low);
  sys::close(fd);
}

TEST(OwnFds, AFailedOpenStaysAFailure) {
  errno = 0;
  EXPECT_EQ(sys::open("/nonexistent/valley-own-fds", O_RDONLY), -1);
  EXPECT_EQ(errno, ENOENT);
}

} // namespace
