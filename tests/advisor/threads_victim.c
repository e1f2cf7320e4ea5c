// SPDX-License-Identifier: MIT
// Ground truth for the export tests: 3 threads besides main, each writing 300 lines of 8
// bytes to its own file (out-N.txt in the working directory), then main writes 100 more to
// out-main.txt: 1000 writes from two call sites, on 4 threads.
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void* worker(void* arg) {
  char name[32];
  snprintf(name, sizeof name, "out-%ld.txt", (long)arg);
  int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  for (int i = 0; i < 300; i++)
    write(fd, "line %d\n", 8);
  close(fd);
  return NULL;
}

int main(void) {
  pthread_t t[3];
  for (long i = 0; i < 3; i++)
    pthread_create(&t[i], NULL, worker, (void*)i);
  for (int i = 0; i < 3; i++)
    pthread_join(t[i], NULL);
  int fd = open("out-main.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  for (int i = 0; i < 100; i++)
    write(fd, "main %d\n", 8);
  close(fd);
  return 0;
}
