// B-16: a SIGALRM handler writes to the same pipe as the main loop; counts must be exact and
// no line torn (and nothing may deadlock).
#include "common.h"
#include <signal.h>
#include <sys/time.h>

enum { N = 200000 };
static int p[2];
static volatile sig_atomic_t handled;

static void on_alarm(int sig) {
  (void)sig;
  int e = errno;
  write(p[1], "S\n", 2);
  ++handled;
  errno = e;
}

int main(void) {
  pipe(p);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 200}, {0, 200}};
    setitimer(ITIMER_REAL, &it, NULL);
    char b[32];
    for (int i = 0; i < N; ++i) write(p[1], b, (size_t)snprintf(b, sizeof b, "M%d\n", i));
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    write(p[1], b, (size_t)snprintf(b, sizeof b, "E%d\n", (int)handled));
    exit(0);
  }
  close(p[1]);
  FILE* in = fdopen(p[0], "r");
  char line[64];
  long m = 0, s = 0, e = -1;
  while (fgets(line, sizeof line, in)) {
    if (line[0] == 'M' && atol(line + 1) == m) ++m;
    else if (!strcmp(line, "S\n")) ++s;
    else if (line[0] == 'E') e = atol(line + 1);
    else fail("bad or out-of-order line '%s' after M%ld", line, m - 1);
  }
  int st = wait_status(pid);
  if (!WIFEXITED(st) || WEXITSTATUS(st)) fail("writer ended with status %d", st);
  if (m != N || e != s) fail("%ld main lines (expected %d), %ld handler lines (writer counted %ld)", m, N, s, e);
  fprintf(stderr, "handler ran %ld times\n", s);
  return 0;
}
