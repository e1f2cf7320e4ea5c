// Ground truth: sequential-pread at scan_records (the pread() below): 4096 preads of 128 bytes at
// contiguous increasing offsets of a 512 KiB file.
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static long scan_records(int fd) {
  char rec[128];
  long sum = 0;
  for (off_t off = 0; pread(fd, rec, sizeof rec, off) == (ssize_t)sizeof rec; off += sizeof rec) // SITE
    sum += rec[0];
  return sum;
}

int main(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : "data.bin";
  static char block[65536];
  memset(block, 7, sizeof block);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  for (int i = 0; i < 8; i++) write(fd, block, sizeof block);
  long s = scan_records(fd);
  close(fd);
  return s > 0 ? 0 : 1;
}
