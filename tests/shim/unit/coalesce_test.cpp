// SPDX-License-Identifier: MIT
// The coalescer's buffer, driven directly (no preload, recording off): writes wait in the
// buffer until a flush point, a write to another fd or a full buffer sends them out, in order,
// and the buffer lock names its holder.
#include "coalesce/buffer.h"
#include "recorder_internal.h"

#include <atomic>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>

using namespace valley;
using namespace valley::shim;

namespace {

class Coalesce : public ::testing::Test {
protected:
  std::filesystem::path dir;
  void SetUp() override {
    g_phase.store(kOff); // record_flush records nothing
    coalesce_defaults(&g_coalesce);
    g_coalesce.on = true;
    char tmpl[] = "/tmp/valley-coalesce-unit-XXXXXX";
    dir = mkdtemp(tmpl);
  }
  void TearDown() override {
    coalesce_flush(true);
    g_coalesce.on = false;
    std::filesystem::remove_all(dir);
  }
  int open_file(const char* name) {
    return ::open((dir / name).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  }
  std::string contents(const char* name) {
    std::ifstream in(dir / name, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // One write as the recorder offers it; `file` is a FileRow id of the test's own.
  Offer write(int fd, uint32_t file, const std::string& bytes, ssize_t* result, uint64_t* gen) {
    iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
    Thread& t = t_thread;
    const bool nested = enter_valley(t);
    EXPECT_FALSE(nested);
    const Offer o = coalesce_offer({fd, FdKind::regular, file, 7, 0x1234, &iov, 1, true}, result, gen);
    leave_valley(t);
    return o;
  }
  // As the close hook does: bytes buffered for fd go out first, then it is closed. (Closing
  // it under the buffer would leave a flush error, EBADF, for the next fd with that number.)
  void close_fd(int fd) {
    coalesce_flush_for_fd(fd);
    EXPECT_EQ(take_sticky_error(fd), 0);
    ::close(fd);
  }
  uint32_t next_file() { return next_file_++; }
  static inline uint32_t next_file_ = 1000; // fresh verdicts for every fd of every test
};

} // namespace

TEST_F(Coalesce, SmallWritesWaitInTheBufferUntilAFlushPoint) {
  const int fd = open_file("a");
  const uint32_t file = next_file();
  ssize_t r = 0;
  uint64_t gen1 = 0, gen2 = 0;
  ASSERT_EQ(write(fd, file, "ab", &r, &gen1), Offer::taken);
  EXPECT_EQ(r, 2);
  errno = 4242;
  ASSERT_EQ(write(fd, file, "cde", &r, &gen2), Offer::taken);
  EXPECT_EQ(errno, 4242) << "the program's errno stays (I-02)";
  EXPECT_EQ(r, 3);
  EXPECT_EQ(gen1, gen2) << "one buffer";
  EXPECT_EQ(contents("a"), "") << "nothing reached the file yet";
  EXPECT_TRUE(g_pending.load());
  coalesce_flush_for_fd(fd);
  EXPECT_EQ(contents("a"), "abcde");
  EXPECT_FALSE(g_pending.load());
  ASSERT_EQ(write(fd, file, "f", &r, &gen2), Offer::taken);
  EXPECT_NE(gen1, gen2) << "a buffer after a flush is a new one: run records end there";
  close_fd(fd);
}

TEST_F(Coalesce, AWriteToAnotherFdSendsTheFirstFdsBytesFirst) {
  const int a = open_file("a"), b = open_file("b");
  const uint32_t fa = next_file(), fb = next_file();
  ssize_t r;
  uint64_t gen;
  ASSERT_EQ(write(a, fa, "first", &r, &gen), Offer::taken);
  ASSERT_EQ(write(b, fb, "second", &r, &gen), Offer::taken);
  EXPECT_EQ(contents("a"), "first") << "order across fds is the program's";
  EXPECT_EQ(contents("b"), "");
  coalesce_flush(true);
  EXPECT_EQ(contents("b"), "second");
  close_fd(a);
  close_fd(b);
}

TEST_F(Coalesce, AFullBufferGoesOutBeforeTheWriteThatDoesNotFit) {
  g_coalesce.size = 512;
  const int fd = open_file("a");
  const uint32_t file = next_file();
  const std::string x(300, 'x'), y(300, 'y'), big(600, 'z');
  ssize_t r;
  uint64_t gen;
  ASSERT_EQ(write(fd, file, x, &r, &gen), Offer::taken);
  ASSERT_EQ(write(fd, file, y, &r, &gen), Offer::taken);
  EXPECT_EQ(contents("a"), x);
  EXPECT_EQ(write(fd, file, big, &r, &gen), Offer::around) << "larger than the buffer: the program's own call";
  EXPECT_EQ(contents("a"), x + y) << "but only after what was buffered";
  close_fd(fd);
}

TEST_F(Coalesce, FdsZeroToTwoAndReadOnlyFdsAreNeverBuffered) {
  ssize_t r;
  uint64_t gen;
  const std::string s = "x";
  iovec iov{const_cast<char*>(s.data()), 1};
  const int ro = ::open("/dev/null", O_RDONLY);
  for (int fd : {1, 2, ro}) {
    const bool nested = enter_valley(t_thread);
    ASSERT_FALSE(nested);
    EXPECT_EQ(coalesce_offer({fd, FdKind::regular, next_file(), 7, 0x1234, &iov, 1, true}, &r, &gen),
              Offer::around)
        << fd;
    leave_valley(t_thread);
  }
  ::close(ro);
}

TEST_F(Coalesce, TheBufferLockNamesItsHolder) {
  ASSERT_TRUE(coalesce::try_lock());
  EXPECT_TRUE(coalesce::held_by_me());
  bool other_got_it = true, other_thinks_it_holds = true;
  std::thread([&] {
    other_got_it = coalesce::try_lock();
    other_thinks_it_holds = coalesce::held_by_me();
  }).join();
  EXPECT_FALSE(other_got_it);
  EXPECT_FALSE(other_thinks_it_holds);
  coalesce::unlock();
  EXPECT_FALSE(coalesce::held_by_me());
  std::thread([&] {
    other_got_it = coalesce::try_lock();
    if (other_got_it) coalesce::unlock();
  }).join();
  EXPECT_TRUE(other_got_it);
}
