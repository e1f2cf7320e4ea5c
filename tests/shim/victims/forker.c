// Ground truth: the parent writes 100 bytes one at a time to /dev/null, forks 3 children that each
// write 1000 times (child 0 leaves with _exit, child 1 with exit, child 2 by returning from main),
// waits for them, then writes 5 more times: 4 processes, parent 105 writes, each child 1000.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void child_work(int fd) {
  for (int i = 0; i < 1000; i++) write(fd, "c", 1);
}

int main(void) {
  int fd = open("/dev/null", O_WRONLY);
  for (int i = 0; i < 100; i++) write(fd, "p", 1);
  for (int k = 0; k < 3; k++) {
    pid_t pid = fork();
    if (pid == 0) {
      child_work(fd);
      if (k == 0) _exit(0);
      if (k == 1) exit(0);
      return 0;
    }
  }
  for (int k = 0; k < 3; k++) wait(NULL);
  for (int i = 0; i < 5; i++) write(fd, "p", 1);
  return 0;
}
