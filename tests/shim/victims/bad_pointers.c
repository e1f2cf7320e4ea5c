// SPDX-License-Identifier: MIT
// I-20: calls handed pointers the kernel refuses (EFAULT). Each line prints what the call
// returned and its errno; under valley, recording or coalescing, the lines must be the same as
// without it, and the program must not die.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

// Through a volatile, so that the compiler does not warn about the calls it cannot see through.
static void* volatile bad = (void*)8;
#define BAD bad

static void show(const char* what, long r) {
  printf("%s: %ld errno %d\n", what, r, r < 0 ? errno : 0);
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int sv[2];
  if (fd < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
  // A good write first: under the coalescer the fd then has a buffer and a lane.
  show("write", write(fd, "ok\n", 3));
  show("write bad buffer", write(fd, BAD, 3));
  const struct iovec bad_base = {BAD, 1};
  show("writev bad array", writev(fd, BAD, 1));
  show("writev bad base", writev(fd, &bad_base, 1));
  show("writev bad array, bad fd", writev(-1, BAD, 1));
  show("readv bad array", readv(sv[0], BAD, 1));
  show("pwritev bad array", pwritev(fd, BAD, 1, 0));
  show("send bad buffer", send(sv[0], BAD, 3, 0));
  show("sendmsg bad header", sendmsg(sv[0], BAD, 0));
  struct msghdr m = {0};
  m.msg_iov = BAD;
  m.msg_iovlen = 1;
  show("sendmsg bad iov", sendmsg(sv[0], &m, 0));
  show("recvmsg bad iov", recvmsg(sv[0], &m, MSG_DONTWAIT));
  show("sendmmsg bad vector", sendmmsg(sv[0], BAD, 2, 0));
  show("open bad path", open(BAD, O_RDONLY));
  show("unlink bad path", unlink(BAD));
  show("write", write(fd, "end\n", 4));
  return close(fd) == 0 ? 0 : 1;
}
