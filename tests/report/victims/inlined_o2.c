// Ground truth: small-writes in put_field (the SITE line), a static helper called once that
// -O2 inlines into emit_row (the CALL line), itself static, called once and inlined into main
// (the LOOP line): 4000 writes of 6 bytes to a file. Built -O2 -g, inlining on.
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static int failures;

static void put_field(int fd, const char* s, size_t n) {
  if (write(fd, s, n) != (ssize_t)n) failures++; // SITE
}

static void emit_row(int fd, int i) {
  char buf[16];
  int n = snprintf(buf, sizeof buf, "%05d\n", i);
  put_field(fd, buf, (size_t)n); // CALL
}

int main(int argc, char** argv) {
  int fd = open(argc > 1 ? argv[1] : "rows.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 1;
  for (int i = 0; i < 4000; i++) emit_row(fd, i); // LOOP
  close(fd);
  return failures != 0;
}
