// B-05: fork with bytes pending; parent and child write to the same stdout. Also the other
// ways a new program starts while bytes are pending: exec and system().
#include "common.h"

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  write(1, "A", 1);
  if (!strcmp(mode, "exec")) {
    execl("/bin/sh", "sh", "-c", "printf B", (char*)NULL);
    fail("exec: %s", strerror(errno));
  }
  if (!strcmp(mode, "system")) {
    system("printf B");
    write(1, "C", 1);
    return 0;
  }
  pid_t pid = fork();
  if (pid == 0) {
    write(1, "B", 1);
    if (!strcmp(mode, "_exit")) _exit(0);
    exit(0);
  }
  wait_status(pid);
  write(1, "C", 1);
  return 0;
}
