// Ground truth (B-18.6): the parent makes 10 100-byte read()s of /dev/zero and 2 write()s to a
// pipe: one that fills it (not buffered), then 1 byte that the coalescer buffers. It then lives
// 150 ms, in which the coalescer's flusher thread reads /proc/self/stat (valley's own reads),
// and exits. The exit's flush of that byte blocks on the full pipe until the child starts
// reading, 500 ms in, long after the flusher has seen the end and gone (it never flushed, so
// it made no recorded call). The child reads everything to EOF and prints "ok" if it got the
// fill and then the byte; holding stdout, it is waited for.
#define _GNU_SOURCE // F_GETPIPE_SZ
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void nap_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&t, NULL);
}

int main(void) {
  int p[2];
  if (pipe(p)) return 2;
  const int cap = fcntl(p[1], F_GETPIPE_SZ);
  if (cap <= 0) return 2;
  const pid_t pid = fork();
  if (pid < 0) return 2;
  if (pid == 0) {
    close(p[1]);
    nap_ms(500);
    char buf[4096];
    long got = 0;
    char last = 0;
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) > 0) {
      got += n;
      last = buf[n - 1];
    }
    if (got == cap + 1 && last == 'x') write(1, "ok\n", 3);
    _exit(0);
  }
  close(p[0]);
  const int in = open("/dev/zero", O_RDONLY);
  if (in < 0) return 2;
  char buf[100];
  for (int i = 0; i < 10; i++)
    if (read(in, buf, sizeof buf) != sizeof buf) return 1;
  char* fill = malloc((size_t)cap);
  if (!fill) return 2;
  memset(fill, '.', (size_t)cap);
  if (write(p[1], fill, (size_t)cap) != cap) return 1;
  nap_ms(150);
  if (write(p[1], "x", 1) != 1) return 1;
  return 0;
}
