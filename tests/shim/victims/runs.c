// Ground truth: emit() makes 1000 one-byte write()s to argv[1], then main reads one byte of
// /dev/zero (or, with argv[2], sleeps 100 ms, long enough for the coalescer's flusher thread
// to flush by age), then emit() makes 500 more. Under the coalescer the writes are absorbed
// and stored as run records: 1000 calls before the read's (or the flusher's) event, 500 after.
#include <fcntl.h>
#include <unistd.h>

static void emit(int fd, int n) {
  for (int i = 0; i < n; i++) write(fd, "x", 1);
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int zero = open("/dev/zero", O_RDONLY);
  char c;
  emit(fd, 1000);
  if (argc > 2) usleep(100000);
  else if (read(zero, &c, 1) != 1) return 1;
  emit(fd, 500);
  return close(fd) == 0 ? 0 : 1;
}
