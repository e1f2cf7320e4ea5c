// Cost of a call at a freshly seen call site (valley captures its full stack) against a call
// at a known one: 1000 distinct write() call sites, timed on the first pass (all new) and on
// the second (all known). Prints ns per call for each pass; compare with the same binary bare.
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define W write(fd, "x", 1);
#define W10 W W W W W W W W W W
#define W100 W10 W10 W10 W10 W10 W10 W10 W10 W10 W10
#define W1000 W100 W100 W100 W100 W100 W100 W100 W100 W100 W100

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

// Every W is its own call instruction, so its own return address: 1000 call sites.
__attribute__((noinline)) static void thousand_sites(int fd) { W1000 }

int main(void) {
  int fd = open("/dev/null", O_WRONLY);
  double t0 = now_ns();
  thousand_sites(fd);
  double t1 = now_ns();
  for (int i = 0; i < 100; i++) thousand_sites(fd);
  double t2 = now_ns();
  printf("first_sight_ns %.1f\nknown_site_ns %.1f\n", (t1 - t0) / 1000, (t2 - t1) / 100000);
  return 0;
}
