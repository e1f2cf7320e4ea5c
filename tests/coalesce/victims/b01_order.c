// B-01: writes valley does not see in order: 2>&1, dup'ed fds, unbuffered stdio on the fd.
// The test compares stdout's file with the program's order.
#include "common.h"

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "2>&1")) { // run with stdout and stderr on one file
    for (int i = 0; i < 20; ++i) write(1, "x", 1);
    for (int i = 0; i < 50; ++i) {
      write(1, "a", 1);
      write(2, "b", 1);
      write(1, "c\n", 2);
    }
  } else if (!strcmp(mode, "dup")) {
    int d = dup(1);
    for (int i = 0; i < 20; ++i) write(1, "x", 1);
    for (int i = 0; i < 50; ++i) {
      write(1, "1", 1);
      write(d, "2", 1);
      write(1, "3\n", 2);
    }
  } else if (!strcmp(mode, "stdio")) {
    setvbuf(stdout, NULL, _IONBF, 0);
    for (int i = 0; i < 20; ++i) {
      write(1, "A", 1);
      printf("B");
      write(1, "C", 1);
      fputs("D\n", stdout);
    }
  } else {
    fail("mode?");
  }
  return 0;
}
