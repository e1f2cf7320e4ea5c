// B-07: positioned and metadata operations on a file with bytes pending.
#include "common.h"
#include <sys/mman.h>

static void counter(int rounds) {
  int fd = open("cnt", O_RDWR);
  for (int i = 0; i < rounds; ++i) {
    struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_SETLKW, &l)) fail("lock: %s", strerror(errno));
    char b[32] = {0};
    lseek(fd, 0, SEEK_SET);
    if (read(fd, b, 16) != 16) fail("read counter");
    long v = strtol(b, NULL, 10);
    snprintf(b, sizeof b, "%015ld\n", (v + 1) % 1000000);
    lseek(fd, 0, SEEK_SET);
    write(fd, b, 8);
    write(fd, b + 8, 8);
    l.l_type = F_UNLCK;
    fcntl(fd, F_SETLK, &l);
  }
  _exit(0);
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "counter")) { // 2 processes x 500 locked increments
    int fd = open("cnt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write(fd, "000000000000000\n", 16);
    close(fd);
    pid_t a = fork();
    if (a == 0) counter(500);
    pid_t b = fork();
    if (b == 0) counter(500);
    wait_status(a);
    wait_status(b);
    char buf[17] = {0};
    fd = open("cnt", O_RDONLY);
    read(fd, buf, 16);
    if (strtol(buf, NULL, 10) != 1000) fail("counter ended at %ld, not 1000", strtol(buf, NULL, 10));
    return 0;
  }
  int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
  char data[4096];
  for (int i = 0; i < 4096; ++i) data[i] = (char)('a' + i % 26);
  for (int i = 0; i < 64; ++i) write(fd, data + 64 * i, 64);
  if (!strcmp(mode, "lseek")) {
    off_t cur = lseek(fd, 0, SEEK_CUR);
    off_t end = lseek(fd, 0, SEEK_END);
    if (cur != 4096 || end != 4096) fail("lseek: SEEK_CUR %lld SEEK_END %lld, not 4096", (long long)cur, (long long)end);
  } else if (!strcmp(mode, "fstat")) {
    struct stat st;
    fstat(fd, &st);
    if (st.st_size != 4096) fail("fstat: st_size %lld, not 4096", (long long)st.st_size);
  } else if (!strcmp(mode, "mmap")) {
    void* p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) fail("mmap: %s", strerror(errno));
    if (memcmp(p, data, 4096)) fail("mmap shows other bytes than were written");
  } else if (!strcmp(mode, "copy_file_range")) {
    int out = open("g", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    loff_t off = 0;
    ssize_t n = copy_file_range(fd, &off, out, NULL, 8192, 0);
    if (n != 4096) fail("copy_file_range copied %zd, not 4096", n);
  } else if (!strcmp(mode, "pread")) {
    char b[4096];
    ssize_t n = pread(fd, b, sizeof b, 0);
    if (n != 4096 || memcmp(b, data, 4096)) fail("pread returned %zd bytes or other data", n);
  } else if (!strcmp(mode, "ftruncate")) {
    if (ftruncate(fd, 100) != 0) fail("ftruncate: %s", strerror(errno));
    if (raw_size("f") != 100) fail("after ftruncate(100) the file has %lld bytes", raw_size("f"));
  } else {
    fail("mode?");
  }
  return 0;
}
