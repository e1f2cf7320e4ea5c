// Coalescer benchmark (a): N one-byte write()s to a file, or with argv[3] == "stdio" the same
// loop through a 64 KiB stdio buffer (fwrite of one byte), the fix a programmer would make.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  long n = atol(argv[2]);
  if (argc > 3 && strcmp(argv[3], "stdio") == 0) {
    FILE* f = fopen(argv[1], "w");
    static char buf[65536];
    setvbuf(f, buf, _IOFBF, sizeof buf);
    for (long i = 0; i < n; i++) fwrite("x", 1, 1, f);
    return fclose(f) == 0 ? 0 : 1;
  }
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  for (long i = 0; i < n; i++)
    if (write(fd, "x", 1) != 1) return 1;
  return close(fd) == 0 ? 0 : 1;
}
