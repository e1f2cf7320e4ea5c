// Ground truth: the main loop writes "M\n" argv[1] times to stdout while a SIGALRM handler,
// every 50 µs, writes "S\n" and counts itself; at the end the handler count goes to stderr.
// Lines on stdout = argv[1] + that count, exactly, whatever valley does inside write().
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t handled;

static void on_alarm(int sig) {
  (void)sig;
  write(1, "S\n", 2);
  handled = handled + 1;
}

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 50}, {0, 50}};
  setitimer(ITIMER_REAL, &it, NULL);
  for (long i = 0; i < n; i++) write(1, "M\n", 2);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  fprintf(stderr, "%d\n", (int)handled);
  return 0;
}
