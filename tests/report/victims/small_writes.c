// Ground truth: small-writes at log_line (the write() below): 5000 writes of 12 bytes to a file.
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static void log_line(int fd, int i) {
  char line[16];
  int n = snprintf(line, sizeof line, "event %05d\n", i);
  write(fd, line, (size_t)n); // SITE
}

int main(int argc, char** argv) {
  int fd = open(argc > 1 ? argv[1] : "out.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 1;
  for (int i = 0; i < 5000; i++) log_line(fd, i);
  close(fd);
  return 0;
}
