// Ground truth: SIGALRM every 100 µs, and its handler jumps back into the loop in main, which
// writes "M\n" to stdout until 2000 jumps happened: many of them leave from inside valley's
// write. Then after_jumps() writes "A\n" 1000 times and a new thread writes "T\n" once,
// timing its write (stderr: "jumps 2000" and "thread write N us"). argv[1] picks the jump:
// sig (sigsetjmp/siglongjmp), plain (setjmp/longjmp), under (_setjmp/_longjmp).
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static sigjmp_buf sig_env;
static jmp_buf env;
static volatile sig_atomic_t mode; // 0 sig, 1 plain, 2 under
static volatile sig_atomic_t jumps;

static void on_alarm(int sig) {
  (void)sig;
  if (jumps >= 2000) return; // a late signal, before the timer is off
  jumps = jumps + 1;
  if (mode == 0) siglongjmp(sig_env, 1);
  if (mode == 1) longjmp(env, 1);
  _longjmp(env, 1);
}

static long now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000L + t.tv_nsec / 1000;
}

static void* worker(void* arg) {
  (void)arg;
  long t0 = now_us();
  write(1, "T\n", 2);
  fprintf(stderr, "thread write %ld us\n", now_us() - t0);
  return NULL;
}

static void start_timer(void) {
  struct itimerval it = {{0, 100}, {0, 100}};
  setitimer(ITIMER_REAL, &it, NULL);
}

static void after_jumps(void) {
  for (int i = 0; i < 1000; i++)
    write(1, "A\n", 2);
}

int main(int argc, char** argv) {
  mode = argc > 1 && !strcmp(argv[1], "plain") ? 1 : argc > 1 && !strcmp(argv[1], "under") ? 2 : 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_NODEFER; // setjmp and _setjmp do not save the mask: keep SIGALRM open
  sigaction(SIGALRM, &sa, NULL);
  write(1, "M\n", 2); // the call site is known before the first signal
  // The timer starts once the jump target is set, on the first return only.
  if (mode == 0) {
    if (sigsetjmp(sig_env, 1) == 0) start_timer();
  } else if (mode == 1) {
    if (setjmp(env) == 0) start_timer();
  } else if (_setjmp(env) == 0) {
    start_timer();
  }
  while (jumps < 2000)
    write(1, "M\n", 2);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  after_jumps();
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  pthread_join(t, NULL);
  fprintf(stderr, "jumps %d\n", (int)jumps);
  return 0;
}
