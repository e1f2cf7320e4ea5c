// SPDX-License-Identifier: MIT
// Every fd kind the advisor distinguishes is recognised, with its path.
#include "fd_table.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <string>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

using namespace valley;
using namespace valley::shim;

namespace {

std::string path_of;

FdKind kind(int fd) {
  char path[kPathMax];
  FdKind k = classify_fd(fd, path, sizeof path);
  path_of = path;
  close(fd);
  return k;
}

} // namespace

TEST(FdClassify, Files) {
  EXPECT_EQ(kind(open("/etc/hostname", O_RDONLY)), FdKind::regular);
  EXPECT_EQ(path_of, "/etc/hostname");
  EXPECT_EQ(kind(open("/proc/self/status", O_RDONLY)), FdKind::procfs);
  EXPECT_EQ(kind(open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY)), FdKind::sysfs);
  EXPECT_EQ(kind(open("/tmp", O_RDONLY | O_DIRECTORY)), FdKind::directory);
  EXPECT_EQ(kind(open("/dev/null", O_WRONLY)), FdKind::chardev);
  EXPECT_EQ(path_of, "/dev/null");
  EXPECT_EQ(kind(memfd_create("m", 0)), FdKind::regular);
}

TEST(FdClassify, PipesAndFifos) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_EQ(kind(p[0]), FdKind::pipe);
  EXPECT_EQ(path_of.rfind("pipe:[", 0), 0u) << path_of;
  close(p[1]);
  std::string fifo = "/tmp/valley-fifo-" + std::to_string(getpid());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(kind(open(fifo.c_str(), O_RDONLY | O_NONBLOCK)), FdKind::fifo);
  unlink(fifo.c_str());
}

TEST(FdClassify, Sockets) {
  EXPECT_EQ(kind(socket(AF_INET, SOCK_STREAM, 0)), FdKind::tcp);
  EXPECT_EQ(kind(socket(AF_INET6, SOCK_STREAM, 0)), FdKind::tcp);
  EXPECT_EQ(kind(socket(AF_INET, SOCK_DGRAM, 0)), FdKind::udp);
  EXPECT_EQ(kind(socket(AF_UNIX, SOCK_STREAM, 0)), FdKind::unix_stream);
  EXPECT_EQ(kind(socket(AF_UNIX, SOCK_DGRAM, 0)), FdKind::unix_dgram);
  EXPECT_EQ(kind(socket(AF_UNIX, SOCK_SEQPACKET, 0)), FdKind::unix_seqpacket);
  EXPECT_EQ(kind(socket(AF_NETLINK, SOCK_RAW, 0)), FdKind::other_socket);
}

TEST(FdClassify, AnonInodes) {
  EXPECT_EQ(kind(eventfd(0, 0)), FdKind::eventfd);
  EXPECT_EQ(kind(timerfd_create(CLOCK_MONOTONIC, 0)), FdKind::timerfd);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  EXPECT_EQ(kind(signalfd(-1, &s, 0)), FdKind::signalfd);
  EXPECT_EQ(kind(inotify_init1(0)), FdKind::inotify);
  EXPECT_EQ(kind(epoll_create1(0)), FdKind::epoll);
}

TEST(FdClassify, TerminalAndBadFd) {
  int master = -1, slave = -1;
  ASSERT_EQ(openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  EXPECT_EQ(kind(slave), FdKind::tty);
  close(master);
  char path[kPathMax];
  EXPECT_EQ(classify_fd(987654, path, sizeof path), FdKind::bad);
}
