// B-18.7: the process ends when its last thread ends, even when that thread is not main.
// "pthread_exit": main writes p×10, starts a worker and calls pthread_exit; the worker writes
// w×20 and returns, which ends the process with status 0.
// "fork_from_thread": a worker thread forks; the child (one thread, the worker's copy) writes
// c×20 and returns from the thread function, which ends the child with status 0; the parent
// waits for it and writes q×30.
#include "common.h"
#include <pthread.h>

static void letters(char c, int n) {
  for (int i = 0; i < n; ++i)
    write(1, &c, 1);
}

static void* worker(void* arg) {
  letters('w', 20);
  (void)arg;
  return NULL;
}

static void* forker(void* arg) {
  pid_t pid = fork();
  if (pid == 0) {
    letters('c', 20);
    return NULL; // the child's only thread ends here: glibc ends the child with exit(0)
  }
  int st = wait_status(pid);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail("child did not exit 0");
  letters('q', 30);
  (void)arg;
  return NULL;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  letters('p', 10);
  pthread_t t;
  if (!strcmp(mode, "pthread_exit")) {
    if (pthread_create(&t, NULL, worker, NULL) != 0) fail("pthread_create");
    pthread_exit(NULL);
  }
  if (pthread_create(&t, NULL, forker, NULL) != 0) fail("pthread_create");
  pthread_join(t, NULL);
  return 0;
}
