// B-18.3: CPython's multiprocessing SimpleQueue, reduced. The producer writes a message to a
// pipe (a header and a body), then posts a semaphore while holding a lock (CPython's GIL:
// SemLock.release runs with it held). The consumer waits for the semaphore, takes the lock for
// its bookkeeping, then finds the message readable at once (poll with a timeout) and reads it.
// The consumer starts late, so the pipe fills: a flush inside sem_post that blocks on the full
// pipe while the lock is held deadlocks; one that holds the message back breaks "posted means
// readable".
#include "common.h"
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>

#define COUNT 20000
#define SIZE 100
#define HEADER 4

static pthread_mutex_t gil = PTHREAD_MUTEX_INITIALIZER;
static sem_t items;
static int p[2];
static long work;

// Leaves through _exit: exit would wait for a final flush into the full pipe.
#define die(...) (fprintf(stderr, "FAIL: " __VA_ARGS__), fputc('\n', stderr), _exit(1))

static void message(int i, char* b) {
  memset(b, 'a' + i % 26, SIZE);
  memcpy(b, &i, sizeof i);
}

static void* consumer(void* arg) {
  (void)arg;
  char want[SIZE], got[SIZE];
  nap_ms(100);
  for (int i = 0; i < COUNT; ++i) {
    while (sem_wait(&items) != 0) {
    }
    pthread_mutex_lock(&gil);
    for (int k = 0; k < 200; ++k)
      work += k; // the consumer is the slower side
    pthread_mutex_unlock(&gil);
    for (size_t n = 0; n < SIZE;) {
      struct pollfd pf = {p[0], POLLIN, 0};
      if (poll(&pf, 1, 2000) != 1) die("message %d was posted but is not readable after 2 s", i);
      ssize_t r = read(p[0], got + n, SIZE - n);
      if (r <= 0) die("message %d: read: %s", i, r ? strerror(errno) : "EOF");
      n += (size_t)r;
    }
    message(i, want);
    if (memcmp(got, want, SIZE)) die("message %d differs", i);
  }
  return NULL;
}

int main(void) {
  warm();
  if (pipe(p) || sem_init(&items, 0, 0)) fail("setup: %s", strerror(errno));
  pthread_t t;
  if (pthread_create(&t, NULL, consumer, NULL)) fail("pthread_create");
  char b[SIZE];
  for (int i = 0; i < COUNT; ++i) {
    message(i, b);
    write_full(p[1], b, HEADER); // CPython releases the GIL around the writes themselves
    write_full(p[1], b + HEADER, SIZE - HEADER);
    pthread_mutex_lock(&gil);
    sem_post(&items);
    pthread_mutex_unlock(&gil);
  }
  pthread_join(t, NULL);
  return 0;
}
