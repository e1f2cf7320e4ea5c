// Ground truth (I-02), under VALLEY_COALESCE=1 with pipes coalesced and a long age bound: one
// byte written to a pipe is buffered; its only reader (a child) then exits, unseen by valley
// (raw syscalls); lseek on a regular file, a flush point whose flush now fails with EPIPE,
// succeeds and must leave errno as it was; the next write to the pipe reports EPIPE (the flush's
// error). SIGPIPE is ignored. Exit 0, or 1 with the broken step on stderr.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  signal(SIGPIPE, SIG_IGN);
  int data[2], go[2];
  if (pipe(data) != 0 || pipe(go) != 0) return 2;
  pid_t child = fork();
  if (child < 0) return 2;
  if (child == 0) { // holds the read end until told to leave
    char c;
    close(data[1]);
    syscall(SYS_read, go[0], &c, 1);
    syscall(SYS_exit_group, 0);
  }
  close(data[0]);
  close(go[0]);
  int f = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (f < 0) return 2;
  if (write(data[1], "x", 1) != 1) return 2;
  int status;
  syscall(SYS_write, go[1], "g", 1);
  syscall(SYS_wait4, child, &status, 0, NULL);
  errno = 4242;
  if (lseek(f, 0, SEEK_SET) != 0 || errno != 4242) {
    fprintf(stderr, "lseek: errno %d\n", errno);
    return 1;
  }
  errno = 0;
  if (write(data[1], "y", 1) != -1 || errno != EPIPE) {
    fprintf(stderr, "write after the reader left: errno %d, not EPIPE\n", errno);
    return 1;
  }
  return 0;
}
