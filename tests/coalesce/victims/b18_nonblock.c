// B-18.2: a blocking socket turns non-blocking where the fd number's cached verdict does not
// show it. Every byte the program was told was written must reach the peer, in order:
//   ioctl   ioctl(FIONBIO) on the fd itself (CPython's setblocking/settimeout)
//   dup     fcntl(F_SETFL, O_NONBLOCK) through a dup of the fd
//   child   another process sets O_NONBLOCK on the shared open file description
// The writer writes a counted pattern, first blocking (buffered), then until EAGAIN; the reader
// (a child) starts reading only then, checks the pattern and counts what arrived.
// Prints "accepted=N received=M"; exits 0 only if they are equal and the pattern is intact.
#include "common.h"
#include <sys/ioctl.h>
#include <sys/socket.h>

#define CHUNK 37
#define LIMIT (8L << 20) // a writer that never sees EAGAIN stops here

static unsigned char pattern(long i) { return (unsigned char)(i * 7 % 251); }

static long fill(int fd, long at, long stop, int until_eagain) {
  unsigned char b[CHUNK];
  while (at < stop) {
    for (int i = 0; i < CHUNK; ++i)
      b[i] = pattern(at + i);
    ssize_t w = write(fd, b, CHUNK);
    if (w < 0 && errno == EAGAIN && until_eagain) return at;
    if (w < 0) fail("write: %s", strerror(errno));
    at += w;
  }
  return at;
}

// Reads until EOF; returns the count, or -1 at the first byte that breaks the pattern.
static long drain(int fd) {
  unsigned char b[65536];
  long at = 0;
  for (;;) {
    ssize_t r = read(fd, b, sizeof b);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail("read: %s", strerror(errno));
    if (r == 0) return at;
    for (ssize_t i = 0; i < r; ++i, ++at)
      if (b[i] != pattern(at)) return -1 - at;
  }
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  warm();
  int s[2], go[2], done[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) || pipe(go) || pipe(done))
    fail("setup: %s", strerror(errno));
  pid_t reader = fork();
  if (reader == 0) {
    close(s[0]);
    char c;
    if (read_full(go[0], &c, 1) != 1) _exit(3);
    long n = drain(s[1]);
    if (syscall(SYS_write, done[1], &n, sizeof n) != sizeof n) _exit(3);
    _exit(0);
  }
  close(s[1]);
  long at = fill(s[0], 0, 100 * CHUNK, 0); // blocking: these may be buffered
  if (!strcmp(mode, "ioctl")) {
    int on = 1;
    if (ioctl(s[0], FIONBIO, &on)) fail("ioctl: %s", strerror(errno));
  } else if (!strcmp(mode, "dup")) {
    int d = dup(s[0]);
    if (fcntl(d, F_SETFL, fcntl(d, F_GETFL) | O_NONBLOCK)) fail("fcntl: %s", strerror(errno));
    close(d);
  } else if (!strcmp(mode, "child")) {
    pid_t setter = fork();
    if (setter == 0) {
      fcntl(s[0], F_SETFL, fcntl(s[0], F_GETFL) | O_NONBLOCK);
      _exit(0);
    }
    wait_status(setter);
  } else {
    fail("mode?");
  }
  at = fill(s[0], at, LIMIT, 1);
  // The reader starts (the tokens between the two go around valley, so that a buffer that
  // keeps them cannot hang the test); what is still buffered goes out as it drains.
  if (syscall(SYS_write, go[1], "r", 1) != 1) fail("go: %s", strerror(errno));
  const int closed = close(s[0]) == 0 ? 0 : errno;
  long received = 0;
  if (read_full(done[0], &received, sizeof received) != sizeof received)
    fail("no count from the reader");
  wait_status(reader);
  printf("accepted=%ld received=%ld\n", at, received);
  if (received < 0) fail("byte %ld broke the pattern", -1 - received);
  if (closed) fail("close: %s", strerror(closed));
  return at == received && at < LIMIT ? 0 : 1;
}
