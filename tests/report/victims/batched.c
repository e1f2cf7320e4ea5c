// Ground truth: no finding. A well-batched program: 64 KiB writes and reads of a file, one
// writev() per request before its recv(), and one sendmmsg() per 32 datagrams.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static char block[65536];

static void copy_file(const char* path) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  for (int i = 0; i < 300; i++) write(fd, block, sizeof block);
  lseek(fd, 0, SEEK_SET);
  while (read(fd, block, sizeof block) > 0) {}
  close(fd);
}

static void requests(void) {
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  if (fork() == 0) {
    char buf[65536];
    close(sv[0]);
    ssize_t n;
    while ((n = recv(sv[1], buf, sizeof buf, 0)) > 0) send(sv[1], "OK", 2, 0);
    _exit(0);
  }
  close(sv[1]);
  for (int i = 0; i < 500; i++) {
    struct iovec iov[2] = {{"PUT /k\r\n", 8}, {"body\r\n\r\n", 8}};
    char reply[2];
    writev(sv[0], iov, 2);
    recv(sv[0], reply, 2, MSG_WAITALL);
  }
  close(sv[0]);
}

static void datagrams(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof me;
  bind(fd, (struct sockaddr*)&me, sizeof me);
  getsockname(fd, (struct sockaddr*)&me, &len);
  struct mmsghdr msgs[32];
  struct iovec iov[32];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < 32; i++) {
    iov[i] = (struct iovec){"metric:1|c", 10};
    msgs[i].msg_hdr = (struct msghdr){.msg_name = &me, .msg_namelen = sizeof me, .msg_iov = &iov[i], .msg_iovlen = 1};
  }
  for (int r = 0; r < 60; r++) sendmmsg(fd, msgs, 32, 0);
  close(fd);
}

int main(int argc, char** argv) {
  copy_file(argc > 1 ? argv[1] : "big.bin");
  requests();
  datagrams();
  return 0;
}
