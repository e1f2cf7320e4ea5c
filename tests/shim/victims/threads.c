// Ground truth: argv[1] threads each make argv[2] 1-byte writes to /dev/null, from one call site
// in writer(); the main thread makes none (it opens /dev/null once). Total write calls =
// threads * count, exactly.
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static long count;
static int fd;

static void* writer(void* arg) {
  (void)arg;
  for (long i = 0; i < count; i++) write(fd, "x", 1);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  int n = atoi(argv[1]);
  count = atol(argv[2]);
  fd = open("/dev/null", O_WRONLY);
  pthread_t t[64];
  for (int i = 0; i < n && i < 64; i++) pthread_create(&t[i], NULL, writer, NULL);
  for (int i = 0; i < n && i < 64; i++) pthread_join(t[i], NULL);
  return 0;
}
