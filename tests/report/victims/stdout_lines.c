// Ground truth: small-writes at put_line (the write() below): 3000 writes of 10 bytes to fd 1,
// which the victim points at a file (a program run as `prog > file`). "mixed" also prints a
// header through stdio first, whose write valley does not intercept (libc's internal call).
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void put_line(int i) {
  char line[16];
  int n = snprintf(line, sizeof line, "line %04d\n", i);
  write(1, line, (size_t)n); // SITE
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || dup2(fd, 1) < 0) return 1;
  close(fd);
  if (argc > 2 && !strcmp(argv[2], "mixed")) {
    printf("header\n");
    fflush(stdout);
  }
  for (int i = 0; i < 3000; i++) put_line(i);
  return 0;
}
