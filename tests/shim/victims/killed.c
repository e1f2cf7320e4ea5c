// Ground truth: one open and 1000 writes to /dev/null, then the process kills itself with SIGKILL: no exit
// path runs, the trace must still hold every call (counters) and event (undrained buffer).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

int main(void) {
  int fd = open("/dev/null", O_WRONLY);
  for (int i = 0; i < 1000; i++) write(fd, "k", 1);
  kill(getpid(), SIGKILL);
  return 0;
}
