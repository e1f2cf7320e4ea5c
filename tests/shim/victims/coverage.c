// Ground truth: 5 write() calls valley sees, then one line through stdio, flushed before exit:
// glibc writes it with its internal __write, which no interposer sees. The kernel counts 6
// write syscalls and 3 reads (of argv[1], 2 bytes, then EOF); valley sees 5 writes and 3 reads.
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char** argv) {
  for (int i = 0; i < 5; i++) write(1, "w", 1);
  fputs("stdio\n", stdout);
  fflush(stdout);
  int fd = open(argc > 1 ? argv[1] : "/dev/null", O_RDONLY);
  char c;
  while (read(fd, &c, 1) == 1) {
  }
  return 0;
}
