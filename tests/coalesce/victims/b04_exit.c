// B-04: every way out of a process after write(1, "line\n"): the line must reach stdout.
#include "common.h"
#include <signal.h>

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  write(1, "li", 2);
  write(1, "ne\n", 3);
  if (!strcmp(mode, "exit")) exit(0);
  if (!strcmp(mode, "_exit")) _exit(0);
  if (!strcmp(mode, "_Exit")) _Exit(0);
  if (!strcmp(mode, "quick_exit")) quick_exit(0);
  if (!strcmp(mode, "abort")) abort();
  if (!strcmp(mode, "segv")) raise(SIGSEGV);
  if (!strcmp(mode, "sigterm")) raise(SIGTERM);
  if (!strcmp(mode, "segv-real")) { // a real fault, not raise()
    volatile int* p = (volatile int*)(uintptr_t)8;
    *p = 1;
  }
  if (!strcmp(mode, "daemon")) { // the parent leaves through daemon()'s _exit
    if (daemon(1, 1) != 0) fail("daemon: %s", strerror(errno));
    write(1, "daemon\n", 7);
    _exit(0);
  }
  if (!strcmp(mode, "kill9")) { // data older than the age bound is visible to a SIGKILL
    nap_ms(100);
    kill(getpid(), SIGKILL);
  }
  fail("mode?");
}
