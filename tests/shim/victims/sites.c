// Ground truth: three call sites in three functions: emit_row writes 300 times, emit_header
// 3 times, both to stdout; read_config reads argv[1] one byte at a time until EOF.
#include <fcntl.h>
#include <unistd.h>

__attribute__((noinline)) static void emit_header(void) {
  for (int i = 0; i < 3; i++) write(1, "#", 1);
}

__attribute__((noinline)) static void emit_row(void) {
  for (int i = 0; i < 300; i++) write(1, "r", 1);
}

__attribute__((noinline)) static void read_config(const char* path) {
  int fd = open(path, O_RDONLY);
  char c;
  while (read(fd, &c, 1) == 1) {
  }
  close(fd);
}

int main(int argc, char** argv) {
  emit_header();
  emit_row();
  if (argc > 1) read_config(argv[1]);
  return 0;
}
