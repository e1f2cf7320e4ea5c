// Ground truth: small-writes at emit (the SITE line holds two write() calls, so two return
// addresses): 3000 writes of 4 or 5 bytes. Built -O0 -g so both calls stay. Its two raw stacks
// differ only in the return address and print the same: the report shows one stack.
#include <fcntl.h>
#include <unistd.h>

static void emit(int fd, int i) {
  if (i & 1) write(fd, "odd\n", 4); else write(fd, "even\n", 5); // SITE
}

int main(int argc, char** argv) {
  int fd = open(argc > 1 ? argv[1] : "out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 1;
  for (int i = 0; i < 3000; i++) emit(fd, i);
  close(fd);
  return 0;
}
