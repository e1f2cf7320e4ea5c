// Ground truth: built with -O2 -D_FORTIFY_SOURCE=2 (and once more with -D_FILE_OFFSET_BITS=64):
// read 3 (via __read_chk), pread 2 (__pread_chk or __pread64_chk), recv 4 (__recv_chk),
// recvfrom 1 (__recvfrom_chk); argv[2] is a size the compiler cannot see, so it must call the
// checking variants. With argv[3] == "overflow", read asks for more than the buffer: glibc aborts.
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  size_t n = (size_t)atoi(argv[2]);
  char b[16];
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) return 2;
  if (argc > 3 && strcmp(argv[3], "overflow") == 0) return (int)read(fd, b, n + 32);
  for (int i = 0; i < 3; i++) read(fd, b, n);
  for (int i = 0; i < 2; i++) pread(fd, b, n, i);
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  for (int i = 0; i < 5; i++) send(sv[0], "0123456789", 10, 0); // 50 bytes: no recv blocks
  for (int i = 0; i < 4; i++) recv(sv[1], b, n, MSG_WAITALL);
  recvfrom(sv[1], b, n, MSG_WAITALL, NULL, NULL);
  return 0;
}
