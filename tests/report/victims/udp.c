// Ground truth: datagram-batch at send_metrics (the sendto() below): 2000 UDP datagrams of 40
// bytes sent back to back to 127.0.0.1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

static void send_metrics(int fd, const struct sockaddr_in* to, int i) {
  char msg[64];
  int n = snprintf(msg, sizeof msg, "metric.requests:%08d|c|#host:a\n", i);
  sendto(fd, msg, (size_t)n, 0, (const struct sockaddr*)to, sizeof *to); // SITE
}

int main(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof me;
  if (fd < 0 || bind(fd, (struct sockaddr*)&me, sizeof me) != 0 ||
      getsockname(fd, (struct sockaddr*)&me, &len) != 0)
    return 1;
  for (int i = 0; i < 2000; i++) send_metrics(fd, &me, i);
  close(fd);
  return 0;
}
