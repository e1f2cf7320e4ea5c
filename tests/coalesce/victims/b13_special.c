// B-13: fds whose every write is a command: eventfd, /proc/self/comm.
#include "common.h"
#include <sys/eventfd.h>
#include <sys/prctl.h>

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  warm();
  if (!strcmp(mode, "eventfd")) {
    int e = eventfd(0, EFD_NONBLOCK);
    uint64_t one = 1, got = 0;
    write(e, &one, 8);
    write(e, &one, 8);
    if (read(e, &got, 8) != 8 || got != 2) fail("eventfd counter %llu, not 2", (unsigned long long)got);
    return 0;
  }
  if (!strcmp(mode, "comm")) {
    int fd = open("/proc/self/comm", O_WRONLY);
    write(fd, "abc", 3);
    write(fd, "def", 3);
    char name[17] = {0};
    prctl(PR_GET_NAME, name);
    if (strcmp(name, "def")) fail("name is '%s', not 'def'", name);
    return 0;
  }
  fail("mode?");
}
