// B-17: a writer produces one small record every 1 ms; the reader timestamps each one. The
// largest delay must stay within the limit given in microseconds; prints the largest and the
// 99th percentile.
#include "common.h"

int main(int argc, char** argv) {
  long limit_us = argc > 1 ? atol(argv[1]) : 10000;
  int n = argc > 2 ? atoi(argv[2]) : 500;
  int p[2];
  pipe(p);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    for (int i = 0; i < n; ++i) {
      uint64_t t = now_ns();
      write(p[1], &t, sizeof t);
      nap_ms(1);
    }
    exit(0);
  }
  close(p[1]);
  uint64_t t, worst = 0, *delay = calloc((size_t)n, sizeof *delay);
  int got = 0;
  while (read_full(p[0], &t, sizeof t) == sizeof t) {
    uint64_t d = now_ns() - t;
    if (d > worst) worst = d;
    if (got < n) delay[got] = d;
    ++got;
  }
  wait_status(pid);
  for (int i = 1; i < n && i < got; ++i) // insertion sort: 500 values
    for (int j = i; j > 0 && delay[j - 1] > delay[j]; --j) {
      uint64_t x = delay[j];
      delay[j] = delay[j - 1];
      delay[j - 1] = x;
    }
  uint64_t p99 = got ? delay[(got < n ? got : n) * 99 / 100] : 0;
  printf("records=%d max_delay_us=%llu p99_delay_us=%llu\n", got, (unsigned long long)(worst / 1000),
         (unsigned long long)(p99 / 1000));
  if (got != n) fail("%d records, not %d", got, n);
  if (worst / 1000 > (uint64_t)limit_us) fail("max delay %llu us > %ld us", (unsigned long long)(worst / 1000), limit_us);
  return 0;
}
