// Ground truth: 50 times, ask() makes one 1-byte write() to argv[1] and then lseek()s it,
// which flushes the coalescer's buffer with that single write in it; then bulk() makes 6400
// one-byte write()s. The coalescer gives up buffering an fd after 8 such lone buffers and
// tries again every 64th write: 8 + 6379 writes absorbed, 42 + 21 written straight.
#include <fcntl.h>
#include <unistd.h>

static void ask(int fd) {
  for (int i = 0; i < 50; i++) {
    write(fd, "q", 1);
    lseek(fd, 0, SEEK_CUR);
  }
}

static void bulk(int fd) {
  for (int i = 0; i < 6400; i++) write(fd, "b", 1);
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 1;
  ask(fd);
  bulk(fd);
  return close(fd) == 0 ? 0 : 1;
}
