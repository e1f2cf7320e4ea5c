// B-09: PIPE_BUF atomicity with several writers on one pipe; packet-mode pipes.
#include "common.h"

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "torn")) { // 4 writers x 2000 records of 100 bytes, every record intact
    int p[2];
    const int fifo = argc > 2 && !strcmp(argv[2], "fifo"); // a named pipe instead
    if (fifo) {
      mkfifo("f", 0600);
      p[0] = open("f", O_RDONLY | O_NONBLOCK); // no writer yet: must not block
      fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) & ~O_NONBLOCK);
      p[1] = -1;
    } else {
      pipe(p);
    }
    // The smallest pipe (one page): a write larger than PIPE_BUF then always waits for the
    // reader part-way, and the other writers get in between, whatever the load on the machine.
    if (fcntl(p[0], F_SETPIPE_SZ, 4096) < 0) fail("F_SETPIPE_SZ: %s", strerror(errno));
    enum { W = 4, N = 2000 };
    pid_t pids[W];
    for (int w = 0; w < W; ++w) {
      pids[w] = fork();
      if (pids[w] == 0) {
        close(p[0]);
        if (fifo) p[1] = open("f", O_WRONLY);
        char rec[100];
        memset(rec, 'a' + w, sizeof rec);
        for (int i = 0; i < N; ++i) {
          char head[16];
          int h = snprintf(head, sizeof head, "%d%05d", w, i);
          memcpy(rec, head, (size_t)h);
          rec[99] = '\n';
          write(p[1], rec, 100);
        }
        exit(0);
      }
    }
    if (p[1] >= 0) close(p[1]);
    nap_ms(100); // every writer is now blocked in a write to the full pipe
    char rec[100];
    int next[W] = {0}, torn = 0, total = 0;
    while (read_full(p[0], rec, 100) == 100) {
      ++total;
      int w = rec[0] - '0';
      int ok = w >= 0 && w < W && rec[99] == '\n';
      for (int i = 6; ok && i < 99; ++i) ok = rec[i] == 'a' + w;
      if (ok && atoi((char[]){rec[1], rec[2], rec[3], rec[4], rec[5], 0}) != next[w]) ok = 0;
      if (!ok) {
        ++torn;
        continue;
      }
      ++next[w];
    }
    for (int w = 0; w < W; ++w) wait_status(pids[w]);
    if (torn || total != W * N) fail("%d of %d records torn or out of order (expected %d)", torn, total, W * N);
    return 0;
  }
  if (!strcmp(mode, "dup-full")) { // writes through two fds of one full pipe keep their order
    int p[2];
    pipe(p);
    if (fcntl(p[0], F_SETPIPE_SZ, 4096) < 0) fail("F_SETPIPE_SZ: %s", strerror(errno));
    pid_t pid = fork();
    if (pid == 0) {
      close(p[1]);
      nap_ms(200);
      char got[4200], want[4200];
      memset(want, 'X', 4000);
      memset(want + 4000, 'Y', 100);
      memset(want + 4100, 'Z', 100);
      if (read_full(p[0], got, sizeof got) != sizeof got || memcmp(got, want, sizeof got))
        fail("the reader did not get X*4000 Y*100 Z*100 in order");
      exit(0);
    }
    close(p[0]);
    int d = dup(p[1]);
    char b[4000];
    memset(b, 'X', 4000);
    write(p[1], b, 4000);
    memset(b, 'Y', 100);
    write(p[1], b, 100); // the X flush fills the one-page pipe; Y waits in the buffer
    memset(b, 'Z', 100);
    write(d, b, 100); // another fd of the same pipe: must come after Y
    close(d);
    close(p[1]);
    if (wait_status(pid) != 0) fail("reader failed");
    return 0;
  }
  if (!strcmp(mode, "packet")) { // pipe2(O_DIRECT): each write is one packet
    int p[2];
    if (pipe2(p, O_DIRECT)) fail("pipe2(O_DIRECT): %s", strerror(errno));
    pid_t pid = fork();
    if (pid == 0) {
      write(p[1], "ab", 2);
      write(p[1], "cd", 2);
      exit(0);
    }
    close(p[1]);
    wait_status(pid);
    char b[100];
    ssize_t r1 = read(p[0], b, sizeof b), r2 = read(p[0], b, sizeof b);
    if (r1 != 2 || r2 != 2) fail("reads returned %zd and %zd, not 2 and 2", r1, r2);
    return 0;
  }
  fail("mode?");
}
