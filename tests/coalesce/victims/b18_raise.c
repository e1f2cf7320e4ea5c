// B-18.5: a child that writes and then kills itself with SIGKILL, through each way a thread
// signals its own process (raise, tgkill, pthread_kill; kill as the control). Its bytes were
// written before the signal, so stdout is p×10 c×20 q×30 and the child died of SIGKILL.
#include "common.h"
#include <pthread.h>
#include <signal.h>

static void letters(char c, int n) {
  for (int i = 0; i < n; ++i)
    write(1, &c, 1);
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  letters('p', 10);
  pid_t pid = fork();
  if (pid == 0) {
    letters('c', 20);
    if (!strcmp(mode, "raise"))
      raise(SIGKILL);
    else if (!strcmp(mode, "tgkill"))
      tgkill(getpid(), gettid(), SIGKILL);
    else if (!strcmp(mode, "pthread_kill"))
      pthread_kill(pthread_self(), SIGKILL);
    else if (!strcmp(mode, "kill"))
      kill(getpid(), SIGKILL);
    _exit(3);
  }
  int st = wait_status(pid);
  letters('q', 30);
  if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) fail("child did not die of SIGKILL");
  return 0;
}
