// Coalescer benchmark (b): N send()s of argv[2] bytes over a unix stream socket to a reader
// process that drains it with large recv()s. Prints the throughput in MB/s.
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  size_t size = argc > 2 ? (size_t)atol(argv[2]) : 16;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 2;
  pid_t pid = fork();
  if (pid == 0) {
    close(sv[0]);
    static char buf[1 << 16];
    while (recv(sv[1], buf, sizeof buf, 0) > 0) {
    }
    _exit(0);
  }
  close(sv[1]);
  char msg[4096] = {0};
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++)
    if (send(sv[0], msg, size, 0) != (ssize_t)size) return 1;
  close(sv[0]);
  waitpid(pid, NULL, 0);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
  printf("%.1f MB/s\n", n * (double)size / s / 1e6);
  return 0;
}
