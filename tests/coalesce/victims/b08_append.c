// B-08: 4 processes x 10,000 O_APPEND writes of 100-byte records into one file; the test
// checks every record afterwards.
#include "common.h"

int main(int argc, char** argv) {
  int procs = 4, n = argc > 1 ? atoi(argv[1]) : 10000;
  close(open("app", O_WRONLY | O_CREAT | O_TRUNC, 0644));
  pid_t pids[4];
  for (int p = 0; p < procs; ++p) {
    pids[p] = fork();
    if (pids[p] == 0) {
      int fd = open("app", O_WRONLY | O_APPEND);
      char rec[100];
      memset(rec, 'a' + p, sizeof rec);
      for (int i = 0; i < n; ++i) {
        char head[16];
        int h = snprintf(head, sizeof head, "%d %06d ", p, i);
        memcpy(rec, head, (size_t)h);
        rec[99] = '\n';
        if (write(fd, rec, 100) != 100) _exit(2);
      }
      exit(0);
    }
  }
  int bad = 0;
  for (int p = 0; p < procs; ++p) {
    int st = wait_status(pids[p]);
    bad |= !WIFEXITED(st) || WEXITSTATUS(st);
  }
  return bad;
}
