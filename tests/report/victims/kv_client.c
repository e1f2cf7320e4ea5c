// Ground truth: one line of the program (CALL) reaches three I/O calls inside libkv
// (kv_lib.c): 2000 writes of records by kv_put, 2000 writes of log lines by kv_log, 2000
// preads by kv_get. Three sites, each named by its library function, not one merged site.
#include <fcntl.h>
#include <unistd.h>

long kv_apply(int data_fd, int log_fd, int key);

int main(void) {
  int data = open("data.kv", O_RDWR | O_CREAT | O_TRUNC, 0644);
  int log = open("kv.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (data < 0 || log < 0) return 1;
  long errors = 0;
  for (int i = 0; i < 6000; i++) errors = kv_apply(data, log, i); // CALL
  close(data);
  close(log);
  return errors != 0;
}
