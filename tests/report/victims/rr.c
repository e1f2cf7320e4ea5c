// Ground truth: small-reads at read_answer: the client reads each 64-byte answer 4 bytes at a
// time with recv() (SITE), 16 calls per answer; the server takes about 1 ms to answer each of
// the 200 requests, so the first recv of every answer waits for it. Reading ahead saves the
// other 15 calls' work, never the wait: the prediction must not promise the waiting time.
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kRequests = 200, kAnswer = 64, kPiece = 4 };

static void read_answer(int fd) {
  char piece[kPiece];
  for (int got = 0; got < kAnswer; got += kPiece)
    if (recv(fd, piece, kPiece, MSG_WAITALL) != kPiece) exit(1); // SITE
}

static void serve(int fd) {
  char request[16], answer[kAnswer];
  memset(answer, 'a', sizeof answer);
  const struct timespec think = {0, 1000000};
  while (recv(fd, request, sizeof request, MSG_WAITALL) == (ssize_t)sizeof request) {
    nanosleep(&think, NULL);
    if (send(fd, answer, sizeof answer, 0) != (ssize_t)sizeof answer) return;
  }
}

int main(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
  pid_t pid = fork();
  if (pid == 0) {
    close(sv[0]);
    serve(sv[1]);
    _exit(0);
  }
  close(sv[1]);
  char request[16] = "GET /answer\r\n\r\n";
  for (int i = 0; i < kRequests; i++) {
    if (send(sv[0], request, sizeof request, 0) != (ssize_t)sizeof request) return 1;
    read_answer(sv[0]);
  }
  close(sv[0]);
  waitpid(pid, NULL, 0);
  return 0;
}
