// Ground truth: a thread loops on write() to /dev/null; write is a cancellation point, so
// pthread_cancel must end it and pthread_join must return: exit 0, "cancelled" on stdout.
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void* loop(void* arg) {
  int fd = *(int*)arg;
  for (;;) write(fd, "x", 1);
  return NULL;
}

int main(void) {
  int fd = open("/dev/null", O_WRONLY);
  pthread_t t;
  pthread_create(&t, NULL, loop, &fd);
  usleep(20000);
  pthread_cancel(t);
  void* res = NULL;
  pthread_join(t, &res);
  puts(res == PTHREAD_CANCELED ? "cancelled" : "not cancelled");
  return res == PTHREAD_CANCELED ? 0 : 1;
}
