// B-18.4: a writer stuck on a full pipe whose reader never reads must still die of SIGTERM,
// within the bound, whoever holds the buffer:
//   write     the writer's own small writes: it is blocked inside a flush of them
//   flusher   the pipe is filled by large writes, then one small write is left buffered and
//             the writer sleeps: the age bound's flusher thread is blocked flushing it
// Prints "died of signal N after M ms"; exits 0 only for SIGTERM within 3 s.
#include "common.h"
#include <signal.h>
#include <sys/ioctl.h>

static void writer(int fd, const char* mode) {
  char small[100], big[8192];
  memset(small, 's', sizeof small);
  memset(big, 'b', sizeof big);
  if (!strcmp(mode, "write")) {
    for (;;)
      write(fd, small, sizeof small);
  } else if (!strcmp(mode, "flusher")) {
    for (int i = 0; i < 8; ++i)
      write(fd, big, sizeof big); // exactly the pipe's 64 KiB
    write(fd, small, sizeof small);
    for (;;)
      nap_ms(1000);
  }
  _exit(3);
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  warm();
  int p[2];
  if (pipe(p)) fail("pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    writer(p[1], mode);
  }
  close(p[1]);
  // Full (16 pages; 100-byte writes leave 96 bytes of each unused), unchanged for 200 ms: the
  // writer is blocked, or its flusher is.
  int queued = -1, last = -2;
  for (int stable = 0; stable < 20; last = queued) {
    nap_ms(10);
    if (syscall(SYS_ioctl, p[0], FIONREAD, &queued) != 0) fail("FIONREAD: %s", strerror(errno));
    stable = queued == last && queued >= 64000 ? stable + 1 : 0;
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) fail("the writer ended before it was stuck");
  }
  const uint64_t t0 = now_ns();
  kill(pid, SIGTERM);
  int st = 0;
  while (waitpid(pid, &st, WNOHANG) != pid) {
    if (now_ns() - t0 > 3000000000u) {
      kill(pid, SIGKILL);
      wait_status(pid);
      fail("still alive 3 s after SIGTERM");
    }
    nap_ms(1);
  }
  const long ms = (long)((now_ns() - t0) / 1000000);
  printf("died of signal %d after %ld ms\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0, ms);
  return WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM ? 0 : 1;
}
