// B-03: fsync must see every byte written before it; O_DIRECT fds must behave exactly as
// without valley (aligned writes, EINVAL for a misaligned one).
#include "common.h"

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "fsync")) {
    int fd = open("f", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    for (int i = 0; i < 10; ++i) write(fd, "x", 1);
    if (fsync(fd) != 0) fail("fsync: %s", strerror(errno));
    if (raw_size("f") != 10) fail("after fsync the file has %lld bytes, not 10", raw_size("f"));
    for (int i = 0; i < 10; ++i) write(fd, "y", 1);
    if (fdatasync(fd) != 0) fail("fdatasync: %s", strerror(errno));
    if (raw_size("f") != 20) fail("after fdatasync the file has %lld bytes, not 20", raw_size("f"));
    return 0;
  }
  if (!strcmp(mode, "odirect")) {
    warm();
    int fd = open("d", O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644);
    if (fd < 0) {
      fprintf(stderr, "O_DIRECT not supported here: %s\n", strerror(errno));
      return 77;
    }
    char* buf = aligned_alloc(4096, 8192);
    memset(buf, 'd', 8192);
    for (int i = 0; i < 4; ++i)
      if (write(fd, buf, 4096) != 4096) fail("aligned write %d: %s", i, strerror(errno));
    errno = 0;
    ssize_t r = write(fd, buf + 1, 100);
    if (r != -1 || errno != EINVAL) fail("misaligned O_DIRECT write returned %zd (%s), not -1 EINVAL", r, strerror(errno));
    if (raw_size("d") != 16384) fail("file has %lld bytes, not 16384", raw_size("d"));
    return 0;
  }
  fail("mode?");
}
