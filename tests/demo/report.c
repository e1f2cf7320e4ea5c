// The bundled demo: a small report generator with the small-I/O habits valley is for.
// Ground truth: read_config reads its config one byte at a time (read of 1 byte per call);
// emit_row writes each CSV field and each separator with its own write() (2 writes per field);
// send_request sends a header and a body as two send() calls before every recv().
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#define ROWS 2000
#define FIELDS 5

static int read_config(const char* path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  int lines = 0;
  char c;
  while (read(fd, &c, 1) == 1) lines += c == '\n';
  close(fd);
  return lines;
}

static void emit_row(int fd, int row) {
  char field[32];
  for (int f = 0; f < FIELDS; f++) {
    int n = snprintf(field, sizeof field, "%d", row * FIELDS + f);
    write(fd, field, (size_t)n);
    write(fd, f + 1 < FIELDS ? "," : "\n", 1);
  }
}

static void send_request(int fd, int i) {
  char header[64], body[64], reply[64];
  int hn = snprintf(header, sizeof header, "GET /item/%d HTTP/1.1\r\n", i);
  int bn = snprintf(body, sizeof body, "Host: demo\r\n\r\n");
  send(fd, header, (size_t)hn, 0);
  send(fd, body, (size_t)bn, 0);
  recv(fd, reply, sizeof reply, 0);
}

// Answers "OK" at the end of every request (a blank line), however the bytes arrive.
static void serve(int fd) {
  char buf[256];
  unsigned last4 = 0;
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
    for (ssize_t i = 0; i < n; i++) {
      last4 = last4 << 8 | (unsigned char)buf[i];
      if (last4 == 0x0d0a0d0a) send(fd, "OK", 2, 0);
    }
}

int main(int argc, char** argv) {
  const char* out = argc > 1 ? argv[1] : "report.csv";
  int settings = read_config("/etc/services");
  int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    perror(out);
    return 1;
  }
  for (int r = 0; r < ROWS; r++) emit_row(fd, r);
  close(fd);

  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  if (fork() == 0) {
    close(sv[0]);
    serve(sv[1]);
    _exit(0);
  }
  close(sv[1]);
  for (int i = 0; i < 200; i++) send_request(sv[0], i);
  close(sv[0]);
  printf("wrote %d rows to %s (config: %d lines)\n", ROWS, out, settings);
  return 0;
}
