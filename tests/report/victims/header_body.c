// Ground truth: write-gather at send_request: send(header) at the SITE line and send(body) on
// the next go out back to back before every recv() on a unix stream socket, 500 times.
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

static void send_request(int fd, int i) {
  char header[32], reply[8];
  int n = snprintf(header, sizeof header, "PUT /k/%d\r\n", i);
  send(fd, header, (size_t)n, 0); // SITE
  send(fd, "body-body-body\r\n\r\n", 18, 0);
  recv(fd, reply, 2, MSG_WAITALL);
}

static void serve(int fd) {
  char buf[4096];
  unsigned last4 = 0;
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
    for (ssize_t i = 0; i < n; i++) {
      last4 = last4 << 8 | (unsigned char)buf[i];
      if (last4 == 0x0d0a0d0a) send(fd, "OK", 2, 0);
    }
}

int main(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
  if (fork() == 0) {
    close(sv[0]);
    serve(sv[1]);
    _exit(0);
  }
  close(sv[1]);
  for (int i = 0; i < 500; i++) send_request(sv[0], i);
  close(sv[0]);
  return 0;
}
