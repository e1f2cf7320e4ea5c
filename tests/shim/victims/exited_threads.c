// Ground truth (B-18.6): 4 worker threads each make 250 1-byte read()s of /dev/zero and 250
// 1-byte write()s to the file argv[1], then end and are joined; the main thread makes 1 read
// and 1 write, and the process ends only after that. So 1001 reads and 1001 writes, every one
// of them seen by valley, and the kernel counts exactly those for this process.
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

static int in, out;

static void* worker(void* arg) {
  (void)arg;
  char c;
  for (int i = 0; i < 250; i++)
    if (read(in, &c, 1) != 1) return (void*)1;
  for (int i = 0; i < 250; i++) // in a row, so that the coalescer buffers them
    if (write(out, "w", 1) != 1) return (void*)1;
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  in = open("/dev/zero", O_RDONLY);
  out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (in < 0 || out < 0) return 2;
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    if (pthread_create(&t[i], NULL, worker, NULL)) return 2;
  for (int i = 0; i < 4; i++) {
    void* r;
    pthread_join(t[i], &r);
    if (r) return 1;
  }
  char c;
  if (read(in, &c, 1) != 1 || write(out, "m", 1) != 1) return 1;
  return 0;
}
