// Ground truth (B-18.6, B-18.7): main writes "p" 10 times to stdout, starts a thread and calls
// pthread_exit; the thread writes "w" 20 times and returns. The process then ends in its last
// thread with status 0: 30 write()s of 1 byte, every one seen by valley.
#include <pthread.h>
#include <unistd.h>

static void* worker(void* arg) {
  (void)arg;
  for (int i = 0; i < 20; i++)
    write(1, "w", 1);
  return NULL;
}

int main(void) {
  for (int i = 0; i < 10; i++)
    write(1, "p", 1);
  pthread_t t;
  if (pthread_create(&t, NULL, worker, NULL)) return 2;
  pthread_exit(NULL);
}
