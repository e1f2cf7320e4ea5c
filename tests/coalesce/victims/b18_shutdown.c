// B-18.1: send("hello") in five sends, then shutdown(SHUT_WR): the peer must read all five
// bytes before its EOF, a later write must fail with EPIPE (not be taken into a buffer), and
// close must return 0 with no SIGPIPE on the way. Modes: tcp (loopback), unix (socketpair).
#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

static void connected_pair(const char* mode, int* a, int* b) {
  if (!strcmp(mode, "unix")) {
    int s[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, s)) fail("socketpair: %s", strerror(errno));
    *a = s[0];
    *b = s[1];
    return;
  }
  if (strcmp(mode, "tcp")) fail("mode?");
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  if (bind(ls, (struct sockaddr*)&sa, len) || listen(ls, 1) ||
      getsockname(ls, (struct sockaddr*)&sa, &len))
    fail("listen: %s", strerror(errno));
  *a = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(*a, (struct sockaddr*)&sa, len)) fail("connect: %s", strerror(errno));
  *b = accept(ls, NULL, NULL);
  if (*b < 0) fail("accept: %s", strerror(errno));
  close(ls);
}

int main(int argc, char** argv) {
  warm();
  int a, b;
  connected_pair(argc > 1 ? argv[1] : "", &a, &b);
  pid_t pid = fork();
  if (pid == 0) { // the sender: SIGPIPE keeps its default action until after the shutdown
    close(b);
    for (const char* p = "hello"; *p; ++p)
      if (send(a, p, 1, 0) != 1) fail("send: %s", strerror(errno));
    if (shutdown(a, SHUT_WR) != 0) fail("shutdown: %s", strerror(errno));
    signal(SIGPIPE, SIG_IGN);
    ssize_t w = write(a, "x", 1);
    if (w != -1 || errno != EPIPE)
      fail("write after shutdown returned %zd (%s), not EPIPE", w, strerror(errno));
    if (close(a) != 0) fail("close after shutdown: %s", strerror(errno));
    _exit(0);
  }
  close(a);
  char got[64];
  size_t n = read_full(b, got, sizeof got); // until the sender's EOF
  int st = wait_status(pid);
  if (n != 5 || memcmp(got, "hello", 5))
    fail("peer read %zu bytes '%.*s' before EOF, not 'hello'", n, (int)n, got);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    fail("sender ended with %s %d", WIFSIGNALED(st) ? "signal" : "status",
         WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  return 0;
}
