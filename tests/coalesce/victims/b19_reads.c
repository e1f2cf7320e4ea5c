// B-19: reads that cannot see the buffer leave it alone; reads that can still see every byte.
// Writes 2000 lines to data.txt one line per write. Before each write it reads a byte of
// other.txt (another regular file) and of /dev/zero: neither can see data.txt's bytes, so the
// coalescer keeps buffering across them. Every 500 lines it reads data.txt back through a
// second fd (the same file, another fd number): that read must see every line written so far.
// Prints "seen=2000" and exits 0 when each read-back saw all bytes; data.txt is then compared
// by the test.
#include "common.h"

int main(void) {
  int out = open("data.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int back = open("data.txt", O_RDONLY);
  int other = open("other.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
  int zero = open("/dev/zero", O_RDONLY);
  if (out < 0 || back < 0 || other < 0 || zero < 0) fail("open: %s", strerror(errno));
  write_full(other, "x", 1);
  char c, line[16];
  size_t written = 0;
  for (int i = 1; i <= 2000; ++i) {
    if (pread(other, &c, 1, 0) != 1 || read(zero, &c, 1) != 1) fail("read: %s", strerror(errno));
    int n = snprintf(line, sizeof line, "line %04d\n", i);
    if (write(out, line, (size_t)n) != n) fail("write: %s", strerror(errno));
    written += (size_t)n;
    if (i % 500 == 0) {
      static char all[65536];
      size_t got = (size_t)pread(back, all, sizeof all, 0);
      if (got != written) fail("read back %zu of %zu bytes after line %d", got, written, i);
    }
  }
  printf("seen=%d\n", 2000);
  return 0;
}
