// Ground truth: small-writes at worker_write (the write() below), one finding for 4 forked
// processes: each worker writes 1000 records of 16 bytes to one shared pipe.
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static void worker_write(int fd, int w, int i) {
  char rec[17];
  snprintf(rec, sizeof rec, "w%d rec %07d\n", w, i);
  write(fd, rec, 16); // SITE
}

int main(void) {
  int p[2];
  if (pipe(p) != 0) return 1;
  for (int w = 0; w < 4; w++)
    if (fork() == 0) {
      close(p[0]);
      for (int i = 0; i < 1000; i++) worker_write(p[1], w, i);
      _exit(0);
    }
  close(p[1]);
  static char buf[65536];
  long total = 0;
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) total += n;
  while (wait(NULL) > 0) {}
  return total == 4 * 1000 * 16 ? 0 : 1;
}
