// Ground truth: nagle-stall at send_request: send(header) at the SITE line and send(body) on
// the next line go out on a loopback TCP socket without TCP_NODELAY, then the client waits for
// the answer. Nagle's algorithm holds the body until the server acknowledges the header, and
// the server delays that ACK (40 ms): every request but the first stalls. With the argument
// "writev" the client sends both in one writev() (the fix). Prints the requests' time in ms.
// usage: nagle [REQUESTS] [writev]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int use_writev;

static void send_request(int fd, int i) {
  char header[64], body[200], reply[16];
  memset(body, 'b', sizeof body);
  int n = snprintf(header, sizeof header, "PUT /k/%d len=%zu\r\n", i, sizeof body);
  memset(header + n, ' ', sizeof header - (size_t)n);
  if (use_writev) {
    struct iovec iov[2] = {{header, sizeof header}, {body, sizeof body}};
    writev(fd, iov, 2);
  } else {
    send(fd, header, sizeof header, 0); // SITE
    send(fd, body, sizeof body, 0);
  }
  recv(fd, reply, sizeof reply, MSG_WAITALL);
}

static void serve(int fd) {
  char buf[264];
  for (;;) {
    size_t got = 0;
    while (got < sizeof buf) {
      ssize_t n = recv(fd, buf + got, sizeof buf - got, 0);
      if (n <= 0) return;
      got += (size_t)n;
    }
    send(fd, "OK-OK-OK-OK-OK-!", 16, 0);
  }
}

int main(int argc, char** argv) {
  int requests = argc > 1 ? atoi(argv[1]) : 50;
  use_writev = argc > 2 && strcmp(argv[2], "writev") == 0;
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  if (bind(ls, (struct sockaddr*)&sa, sizeof sa) || listen(ls, 1) ||
      getsockname(ls, (struct sockaddr*)&sa, &len))
    return 1;
  pid_t pid = fork();
  if (pid == 0) {
    int c = accept(ls, NULL, NULL);
    serve(c);
    _exit(0);
  }
  close(ls);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, (struct sockaddr*)&sa, sizeof sa)) return 1;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < requests; i++) {
    send_request(fd, i);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  close(fd);
  waitpid(pid, NULL, 0);
  printf("%.1f ms\n", (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6);
  return 0;
}
