// The recorder benchmark's workload: N one-byte write()s to /dev/null from one call site.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 10000000;
  int fd = open("/dev/null", O_WRONLY);
  for (long i = 0; i < n; i++)
    if (write(fd, "x", 1) != 1) return 1;
  return 0;
}
