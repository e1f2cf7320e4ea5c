// Ground truth: small-reads at count_lines (the read() below): a 20000-byte file read 1 byte per call.
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static int count_lines(const char* path) {
  int fd = open(path, O_RDONLY), lines = 0;
  char c;
  while (read(fd, &c, 1) == 1) // SITE
    lines += c == '\n';
  close(fd);
  return lines;
}

int main(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : "in.txt";
  char block[1000];
  memset(block, 'x', sizeof block);
  block[999] = '\n';
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  for (int i = 0; i < 20; i++) write(fd, block, sizeof block);
  close(fd);
  return count_lines(path) == 20 ? 0 : 1;
}
