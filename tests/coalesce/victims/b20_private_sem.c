// B-20: a semaphore that is not process-shared hands over only to threads of this process.
// The main thread writes 1000 lines to data.txt, posting a private semaphore after each; a
// worker thread waits for each post, and after every 100th reads data.txt through its own fd:
// that read must see every line posted so far (it reads the buffered file, so it flushes).
// Prints "seen=1000" and exits 0.
#include "common.h"
#include <pthread.h>
#include <semaphore.h>

static sem_t posted;
static volatile size_t written;

static void* reader(void* arg) {
  (void)arg;
  int back = open("data.txt", O_RDONLY);
  if (back < 0) fail("open: %s", strerror(errno));
  static char all[65536];
  for (int i = 1; i <= 1000; ++i) {
    while (sem_wait(&posted) != 0) {
    }
    if (i % 100) continue;
    size_t want = written;
    size_t got = (size_t)pread(back, all, sizeof all, 0);
    if (got < want) fail("read %zu of %zu bytes after post %d", got, want, i);
  }
  return NULL;
}

int main(void) {
  int out = open("data.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0) fail("open: %s", strerror(errno));
  if (sem_init(&posted, 0, 0) != 0) fail("sem_init: %s", strerror(errno));
  pthread_t t;
  if (pthread_create(&t, NULL, reader, NULL) != 0) fail("pthread_create");
  char line[16];
  for (int i = 1; i <= 1000; ++i) {
    int n = snprintf(line, sizeof line, "line %04d\n", i);
    if (write(out, line, (size_t)n) != n) fail("write: %s", strerror(errno));
    written += (size_t)n;
    sem_post(&posted);
  }
  pthread_join(t, NULL);
  printf("seen=%d\n", 1000);
  return 0;
}
