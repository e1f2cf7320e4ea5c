// Ground truth: every data entry point with a known count; errno kept on success, EBADF on fd -1.
// file: write 7, writev 3, pwrite 4, pwritev 2, pwritev2 1, read 5, readv 2, pread 6, preadv 1,
// preadv2 1; unix stream: send 8, recv 8, sendmsg 2, recvmsg 2; udp: sendto 3, recvfrom 3,
// sendmmsg 1 (4 messages, 16 bytes), recvmmsg 1; pipe: write 2, read 2; /dev/null: write 1 (its
// classification probes TCGETS, which fails: errno must not show it); plus one failing call per
// entry point on fd -1 (each an error of that op); open: file 1, chardev 1 (/dev/null). Exit 0,
// or 1 naming the op that broke errno.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static int failures = 0;

// A successful call must leave errno alone; a failing one must set the real errno.
#define OK(name, expr)                                                                    \
  do {                                                                                    \
    errno = 4242;                                                                         \
    long r_ = (long)(expr);                                                               \
    if (r_ < 0 || errno != 4242) {                                                        \
      fprintf(stderr, "%s: r=%ld errno=%d\n", name, r_, errno);                           \
      failures++;                                                                         \
    }                                                                                     \
  } while (0)
#define BAD(name, expr)                                                                   \
  do {                                                                                    \
    errno = 0;                                                                            \
    long r_ = (long)(expr);                                                               \
    if (r_ != -1 || errno != EBADF) {                                                     \
      fprintf(stderr, "%s on fd -1: r=%ld errno=%d\n", name, r_, errno);                  \
      failures++;                                                                         \
    }                                                                                     \
  } while (0)

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  char path[4096];
  snprintf(path, sizeof path, "%s/calls.dat", argv[1]);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return 2;
  char buf[64] = "0123456789abcdef";
  struct iovec iov[2] = {{buf, 4}, {buf + 4, 4}};
  for (int i = 0; i < 7; i++) OK("write", write(fd, buf, 2));
  for (int i = 0; i < 3; i++) OK("writev", writev(fd, iov, 2));
  for (int i = 0; i < 4; i++) OK("pwrite", pwrite(fd, buf, 3, i * 3));
  for (int i = 0; i < 2; i++) OK("pwritev", pwritev(fd, iov, 2, 100 + i * 8));
  OK("pwritev2", pwritev2(fd, iov, 2, 200, 0));
  lseek(fd, 0, SEEK_SET);
  for (int i = 0; i < 5; i++) OK("read", read(fd, buf, 1));
  for (int i = 0; i < 2; i++) OK("readv", readv(fd, iov, 2));
  for (int i = 0; i < 6; i++) OK("pread", pread(fd, buf, 2, i));
  OK("preadv", preadv(fd, iov, 2, 0));
  OK("preadv2", preadv2(fd, iov, 2, 0, 0));

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 2;
  for (int i = 0; i < 8; i++) {
    OK("send", send(sv[0], "ab", 2, 0));
    OK("recv", recv(sv[1], buf, 2, MSG_WAITALL));
  }
  struct msghdr m = {0};
  m.msg_iov = iov;
  m.msg_iovlen = 2;
  for (int i = 0; i < 2; i++) {
    OK("sendmsg", sendmsg(sv[0], &m, 0));
    OK("recvmsg", recvmsg(sv[1], &m, MSG_WAITALL));
  }

  int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(u2, (struct sockaddr*)&a, sizeof a) != 0) return 2;
  socklen_t al = sizeof a;
  getsockname(u2, (struct sockaddr*)&a, &al);
  for (int i = 0; i < 3; i++) {
    OK("sendto", sendto(u1, "dgram", 5, 0, (struct sockaddr*)&a, sizeof a));
    OK("recvfrom", recvfrom(u2, buf, sizeof buf, 0, NULL, NULL));
  }
  if (connect(u1, (struct sockaddr*)&a, sizeof a) != 0) return 2;
  struct iovec mi[4] = {{"aaaa", 4}, {"bbbb", 4}, {"cccc", 4}, {"dddd", 4}};
  struct mmsghdr mm[4];
  memset(mm, 0, sizeof mm);
  for (int i = 0; i < 4; i++) {
    mm[i].msg_hdr.msg_iov = &mi[i];
    mm[i].msg_hdr.msg_iovlen = 1;
  }
  OK("sendmmsg", sendmmsg(u1, mm, 4, 0));
  char rb[4][8];
  struct iovec ri[4];
  for (int i = 0; i < 4; i++) {
    ri[i].iov_base = rb[i];
    ri[i].iov_len = sizeof rb[i];
    mm[i].msg_hdr.msg_iov = &ri[i];
  }
  OK("recvmmsg", recvmmsg(u2, mm, 4, MSG_WAITFORONE, NULL));

  int p[2];
  if (pipe(p) != 0) return 2;
  for (int i = 0; i < 2; i++) {
    OK("pipe write", write(p[1], "z", 1));
    OK("pipe read", read(p[0], buf, 1));
  }

  int dev_null = open("/dev/null", O_WRONLY);
  OK("write /dev/null", write(dev_null, buf, 1));

  BAD("write", write(-1, buf, 1));
  BAD("writev", writev(-1, iov, 2));
  BAD("pwrite", pwrite(-1, buf, 1, 0));
  BAD("pwritev", pwritev(-1, iov, 2, 0));
  BAD("pwritev2", pwritev2(-1, iov, 2, 0, 0));
  BAD("read", read(-1, buf, 1));
  BAD("readv", readv(-1, iov, 2));
  BAD("pread", pread(-1, buf, 1, 0));
  BAD("preadv", preadv(-1, iov, 2, 0));
  BAD("preadv2", preadv2(-1, iov, 2, 0, 0));
  BAD("send", send(-1, buf, 1, 0));
  BAD("sendto", sendto(-1, buf, 1, 0, NULL, 0));
  BAD("sendmsg", sendmsg(-1, &m, 0));
  BAD("sendmmsg", sendmmsg(-1, mm, 1, 0));
  BAD("recv", recv(-1, buf, 1, 0));
  BAD("recvfrom", recvfrom(-1, buf, 1, 0, NULL, NULL));
  BAD("recvmsg", recvmsg(-1, &m, 0));
  BAD("recvmmsg", recvmmsg(-1, mm, 1, 0, NULL));
  return failures ? 1 : 0;
}
