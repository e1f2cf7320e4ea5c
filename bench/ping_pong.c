// Coalescer benchmark (c): request/response over a unix stream socket: the client send()s a
// 32-byte request and recv()s the 32-byte answer, N times. Prints the median round trip in ns.
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 20000;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 2;
  pid_t pid = fork();
  char req[32] = "request", rep[32] = "reply";
  if (pid == 0) {
    close(sv[0]);
    for (;;) {
      if (recv(sv[1], req, sizeof req, MSG_WAITALL) != sizeof req) _exit(0);
      send(sv[1], rep, sizeof rep, 0);
    }
  }
  close(sv[1]);
  double* t = malloc(sizeof(double) * (size_t)n);
  for (long i = 0; i < n; i++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    send(sv[0], req, sizeof req, 0);
    if (recv(sv[0], rep, sizeof rep, MSG_WAITALL) != sizeof rep) return 1;
    clock_gettime(CLOCK_MONOTONIC, &b);
    t[i] = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
  }
  close(sv[0]);
  waitpid(pid, NULL, 0);
  qsort(t, (size_t)n, sizeof *t, cmp);
  printf("%.0f ns\n", t[n / 2]);
  return 0;
}
