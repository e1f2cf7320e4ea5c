// Ground truth: 1000 writes to /dev/null, then the process kills itself with SIGKILL: no exit
// path runs, the trace must still hold all 1000 calls (counters) and events (undrained ring).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

int main(void) {
  int fd = open("/dev/null", O_WRONLY);
  for (int i = 0; i < 1000; i++) write(fd, "k", 1);
  kill(getpid(), SIGKILL);
  return 0;
}
