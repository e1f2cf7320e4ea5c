// Ground truth (B-18.6): a thread reads /dev/zero 1 byte at a time without pause while main,
// once 2000 of those reads are done, returns (exit), so the final count is taken while reads
// still complete. 16 idle threads started after it make that count take a while after the
// reader's figure (one /proc file each). Every read the reader makes is a syscall the kernel
// counts: whatever valley has seen of them when it counts, the kernel has counted too.
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

static atomic_long reads;
static int in;

static void* reader(void* arg) {
  (void)arg;
  char c;
  for (;;)
    if (read(in, &c, 1) == 1) atomic_fetch_add(&reads, 1);
  return NULL;
}

static void* idle(void* arg) {
  (void)arg;
  for (;;)
    pause();
  return NULL;
}

int main(void) {
  in = open("/dev/zero", O_RDONLY);
  if (in < 0) return 2;
  pthread_t t;
  if (pthread_create(&t, NULL, reader, NULL)) return 2;
  for (int i = 0; i < 16; i++)
    if (pthread_create(&t, NULL, idle, NULL)) return 2;
  while (atomic_load(&reads) < 2000) {
    struct timespec nap = {0, 1000000};
    nanosleep(&nap, NULL);
  }
  return 0;
}
