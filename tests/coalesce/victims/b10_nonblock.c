// B-10: non-blocking fds: the bytes accepted before the first EAGAIN; O_NONBLOCK set halfway.
// Prints the count; the test compares it with the run without valley.
#include "common.h"
#include <sys/socket.h>

int fcntl64(int fd, int cmd, ...);

static long fill(int fd) {
  char b[100];
  memset(b, 'z', sizeof b);
  long total = 0;
  while (total < (8L << 20)) {
    ssize_t w = write(fd, b, sizeof b);
    if (w < 0) {
      if (errno != EAGAIN) fail("write: %s", strerror(errno));
      return total;
    }
    total += w;
  }
  return -total; // no EAGAIN at all
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  warm();
  int s[2];
  long before = 0;
  if (!strcmp(mode, "toggle")) { // a pipe: blocking (coalescible) first, then O_NONBLOCK via fcntl64
    // (a pipe counts bytes in pages, so the capacity does not depend on how the bytes were
    // split into writes; a unix socket counts per-message overhead, see the README)
    int p[2];
    pipe(p);
    s[0] = p[1];
    char b[100];
    memset(b, 'y', sizeof b);
    for (int i = 0; i < 50; ++i) before += write(s[0], b, sizeof b);
    fcntl64(s[0], F_SETFL, fcntl64(s[0], F_GETFL) | O_NONBLOCK);
  } else if (!strcmp(mode, "nonblock")) {
    socketpair(AF_UNIX, SOCK_STREAM, 0, s);
    fcntl(s[0], F_SETFL, fcntl(s[0], F_GETFL) | O_NONBLOCK);
  } else {
    fail("mode?");
  }
  long n = fill(s[0]);
  printf("before=%ld until_eagain=%ld\n", before, n);
  return n > 0 ? 0 : 1;
}
