// B-14: a prompt written with write() to a terminal must be on the screen before the program
// waits for input. The victim runs the prompting program on a pty it owns and watches the
// master side like a terminal emulator.
#include "common.h"
#include <poll.h>

int main(void) {
  warm();
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  if (m < 0 || grantpt(m) || unlockpt(m)) fail("pty: %s", strerror(errno));
  const char* name = ptsname(m);
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    int s = open(name, O_RDWR);
    dup2(s, 0);
    dup2(s, 1);
    write(1, "> ", 2);
    char line[64];
    ssize_t n = read(0, line, sizeof line);
    write(1, n > 0 ? "got\n" : "none\n", n > 0 ? 4 : 5);
    _exit(0);
  }
  char screen[256];
  size_t len = 0;
  uint64_t deadline = now_ns() + 2000000000ull;
  while (!memmem(screen, len, "> ", 2)) {
    struct pollfd p = {.fd = m, .events = POLLIN};
    int left = (int)((deadline - now_ns()) / 1000000);
    if (now_ns() >= deadline || poll(&p, 1, left) <= 0) fail("no prompt on the terminal within 2 s");
    ssize_t r = read(m, screen + len, sizeof screen - 1 - len);
    if (r <= 0) fail("pty read");
    len += (size_t)r;
  }
  write(m, "hi\n", 3);
  deadline = now_ns() + 2000000000ull;
  while (!memmem(screen, len, "got", 3)) {
    struct pollfd p = {.fd = m, .events = POLLIN};
    if (now_ns() >= deadline || poll(&p, 1, 2000) <= 0) fail("no answer on the terminal");
    ssize_t r = read(m, screen + len, sizeof screen - 1 - len);
    if (r <= 0) break;
    len += (size_t)r;
  }
  int st = wait_status(pid);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
