// B-12: message boundaries (UDP, SOCK_SEQPACKET) and ancillary data (SCM_RIGHTS).
#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static void expect_messages(int s, int count, int size) {
  struct timeval tv = {3, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char b[4096];
  for (int i = 0; i < count; ++i) {
    ssize_t r = recv(s, b, sizeof b, 0);
    if (r != size) fail("message %d: %zd bytes, not %d", i, r, size);
  }
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  warm();
  if (!strcmp(mode, "udp")) {
    int r = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    bind(r, (struct sockaddr*)&sa, len);
    getsockname(r, (struct sockaddr*)&sa, &len);
    pid_t pid = fork();
    if (pid == 0) {
      int s = socket(AF_INET, SOCK_DGRAM, 0);
      connect(s, (struct sockaddr*)&sa, len);
      for (int i = 0; i < 100; ++i) send(s, "0123456789", 10, 0);
      exit(0);
    }
    wait_status(pid);
    expect_messages(r, 100, 10);
    return 0;
  }
  if (!strcmp(mode, "seqpacket")) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    pid_t pid = fork();
    if (pid == 0) {
      for (int i = 0; i < 100; ++i) write(sv[1], "0123456789", 10);
      exit(0);
    }
    wait_status(pid);
    expect_messages(sv[0], 100, 10);
    return 0;
  }
  if (!strcmp(mode, "scm_rights")) { // prints what each recvmsg got; compared with no valley
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t pid = fork();
    if (pid == 0) {
      write(sv[1], "ab", 2);
      int fd = open("/dev/null", O_RDONLY);
      char ctl[CMSG_SPACE(sizeof(int))] = {0};
      struct iovec iov = {"c", 1};
      struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
      struct cmsghdr* c = CMSG_FIRSTHDR(&m);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(c), &fd, sizeof fd);
      sendmsg(sv[1], &m, 0);
      write(sv[1], "de", 2);
      exit(0);
    }
    close(sv[1]);
    wait_status(pid);
    for (;;) {
      char b[64], ctl[CMSG_SPACE(sizeof(int))];
      struct iovec iov = {b, sizeof b};
      struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
      ssize_t r = recvmsg(sv[0], &m, 0);
      if (r <= 0) break;
      printf("[%.*s%s]", (int)r, b, m.msg_controllen > 0 ? "+fd" : "");
    }
    printf("\n");
    return 0;
  }
  fail("mode?");
}
