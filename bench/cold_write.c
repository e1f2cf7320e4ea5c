// SPDX-License-Identifier: MIT
// The recorder benchmark with cold caches: N one-byte write()s to /dev/null from one call site,
// and between two writes a walk over 16 KiB (one load per cache line) at a new place in a
// 32 MiB buffer, as a program that works on its data between calls does. The walk evicts much
// of the L1 cache and touches 4 new pages, so an interposer's code, data and TLB entries are
// colder at each call; bare pays the walk too, so the difference is the interposer.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define BUF (32u << 20)
#define WALK (16u << 10)

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  volatile unsigned char* buf = calloc(BUF, 1);
  if (!buf) return 1;
  for (unsigned i = 0; i < BUF; i += 4096) buf[i] = 1; // fault every page in once
  int fd = open("/dev/null", O_WRONLY);
  unsigned pos = 0, sum = 0;
  for (long i = 0; i < n; i++) {
    for (unsigned j = 0; j < WALK; j += 64) sum += buf[(pos + j) % BUF];
    pos = (pos + WALK + 4096 * 7) % BUF; // a new place, never the lines just read
    if (write(fd, "x", 1) != 1) return 1;
  }
  return sum == 0xffffffffu;
}
