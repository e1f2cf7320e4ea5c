// Ground truth, in the directory argv[1]: the calls that move no data through the program's
// buffers, each made once from main, every one succeeding:
//   open("a", O_CREAT) -> A, openat(AT_FDCWD, "b", O_CREAT) -> B, creat("c") -> C, and
//   open("missing") failing with ENOENT (4 open);
//   write(A, 10 bytes); fsync(A); fdatasync(A); sync_file_range(A, 2, 8); msync(a page of A);
//   sendfile(B <- A, 10); copy_file_range(A -> B, 10); splice(A -> pipe, 10);
//   tee(pipe -> pipe2, 10); close(C); fclose(fopen("d")) (2 close);
//   unlink("c"); unlinkat(AT_FDCWD, "d", 0) (2 unlink).
// Then a TCP pair on 127.0.0.1: one 1-byte send on the client as it is, one after
// setsockopt(TCP_NODELAY, 1), one after setsockopt(TCP_CORK, 1). Exit 0, or 1 naming the
// call that failed.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

static int failures;
#define CHECK(name, ok)                                \
  do {                                                 \
    if (!(ok)) {                                       \
      fprintf(stderr, "%s failed\n", name);            \
      failures++;                                      \
    }                                                  \
  } while (0)

static void tcp(void) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  CHECK("listen", bind(l, (struct sockaddr*)&a, sizeof a) == 0 && listen(l, 1) == 0 &&
                      getsockname(l, (struct sockaddr*)&a, &len) == 0);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  CHECK("connect", connect(c, (struct sockaddr*)&a, sizeof a) == 0);
  int s = accept(l, NULL, NULL);
  int one = 1;
  CHECK("send plain", send(c, "x", 1, 0) == 1);
  CHECK("nodelay", setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
  CHECK("send nodelay", send(c, "y", 1, 0) == 1);
  CHECK("cork", setsockopt(c, IPPROTO_TCP, TCP_CORK, &one, sizeof one) == 0);
  CHECK("send cork", send(c, "z", 1, 0) == 1);
  (void)s;
}

int main(int argc, char** argv) {
  if (argc < 2 || chdir(argv[1]) != 0) return 2;
  int a = open("a", O_RDWR | O_CREAT | O_TRUNC, 0600);
  int b = openat(AT_FDCWD, "b", O_RDWR | O_CREAT | O_TRUNC, 0600);
  int c = creat("c", 0600);
  CHECK("open", a >= 0 && b >= 0 && c >= 0);
  CHECK("open missing", open("missing", O_RDONLY) == -1);
  CHECK("write", write(a, "0123456789", 10) == 10);
  CHECK("fsync", fsync(a) == 0);
  CHECK("fdatasync", fdatasync(a) == 0);
  CHECK("sync_file_range", sync_file_range(a, 2, 8, SYNC_FILE_RANGE_WRITE) == 0);
  void* m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, a, 0);
  CHECK("msync", m != MAP_FAILED && msync(m, 4096, MS_SYNC) == 0);
  off_t off = 0;
  CHECK("sendfile", sendfile(b, a, &off, 10) == 10);
  loff_t from = 0;
  CHECK("copy_file_range", copy_file_range(a, &from, b, NULL, 10, 0) == 10);
  int p[2], q[2];
  CHECK("pipes", pipe(p) == 0 && pipe(q) == 0);
  loff_t at = 0;
  CHECK("splice", splice(a, &at, p[1], NULL, 10, 0) == 10);
  CHECK("tee", tee(p[0], q[1], 10, 0) == 10);
  CHECK("close", close(c) == 0);
  FILE* d = fopen("d", "w");
  CHECK("fclose", d && fclose(d) == 0);
  CHECK("unlink", unlink("c") == 0);
  CHECK("unlinkat", unlinkat(AT_FDCWD, "d", 0) == 0);
  tcp();
  return failures != 0;
}
