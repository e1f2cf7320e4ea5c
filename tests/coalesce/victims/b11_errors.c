// B-11: errors a buffer would hide or move: /dev/full, EPIPE, SIGPIPE, RLIMIT_FSIZE.
#include "common.h"
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "devfull")) {
    warm();
    int fd = open("/dev/full", O_WRONLY);
    errno = 0;
    ssize_t r = write(fd, "x", 1);
    if (r != -1 || errno != ENOSPC) fail("write to /dev/full returned %zd (%s)", r, strerror(errno));
    return 0;
  }
  if (!strcmp(mode, "epipe")) { // successful writes after the reader has gone
    signal(SIGPIPE, SIG_IGN);
    int p[2];
    pipe(p);
    pid_t pid = fork();
    if (pid == 0) {
      char b[10];
      close(p[1]);
      read_full(p[0], b, 10);
      _exit(0);
    }
    close(p[0]);
    write(p[1], "0123456789", 10);
    wait_status(pid); // the reader is gone now
    long ok = 0;
    int err = 0;
    for (long i = 0; i < 1000000; ++i) {
      if (write(p[1], "z", 1) == 1) {
        ++ok;
      } else {
        err = errno;
        break;
      }
    }
    printf("writes_after_reader_left=%ld errno=%s\n", ok, strerrorname_np(err) ? strerrorname_np(err) : "0");
    return 0;
  }
  if (!strcmp(mode, "sigpipe")) { // SIGPIPE's default action: the writer must die of it
    // A writer W runs into a pipe whose reader R has read one byte and left; W then writes 10
    // bytes and leaves through _exit. Reports how W ended and how many writes it survived.
    volatile long* shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int p[2];
    pipe(p);
    pid_t r = fork();
    if (r == 0) {
      char c;
      close(p[1]);
      read(p[0], &c, 1);
      _exit(0);
    }
    pid_t w = fork();
    if (w == 0) {
      close(p[0]);
      write(p[1], "y", 1);
      while (kill(r, 0) == 0) nap_ms(5); // until the reader has been reaped
      for (int i = 0; i < 10; ++i) {
        write(p[1], "y", 1);
        ++shared[0];
      }
      if (argc > 2) nap_ms(100); // "late": no further call on the pipe, then leave
      _exit(0);
    }
    close(p[0]);
    close(p[1]);
    wait_status(r);
    int st = wait_status(w);
    printf("writer %s %d, writes after the reader left %ld\n", WIFSIGNALED(st) ? "signal" : "exit",
           WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), shared[0]);
    return 0;
  }
  if (!strcmp(mode, "fsize")) { // EFBIG at the same write index
    struct rlimit rl = {2000, 2000};
    setrlimit(RLIMIT_FSIZE, &rl);
    signal(SIGXFSZ, SIG_IGN);
    int fd = open("big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char b[100];
    memset(b, 'f', sizeof b);
    int first = -1, err = 0;
    for (int i = 0; i < 40 && first < 0; ++i)
      if (write(fd, b, 100) != 100) {
        first = i;
        err = errno;
      }
    int c = close(fd);
    printf("first_failure=%d errno=%s close=%d\n", first, strerrorname_np(err) ? strerrorname_np(err) : "0", c);
    return 0;
  }
  if (!strcmp(mode, "fsize-signal")) { // the same with SIGXFSZ's default action
    struct rlimit rl = {2000, 2000};
    setrlimit(RLIMIT_FSIZE, &rl);
    int fd = open("big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char b[100];
    memset(b, 'f', sizeof b);
    for (int i = 0; i < 40; ++i) write(fd, b, 100);
    return 0;
  }
  fail("mode?");
}
