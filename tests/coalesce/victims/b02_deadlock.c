// B-02: a request buffered while the program waits for the answer somewhere valley does not
// see, or sees only as a flush point: pipes, TCP, waitpid, stdio's fgets, a condvar.
#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <pthread.h>
#include <sys/socket.h>

// Each round: two small writes ("p", "i"), then a blocking read of the answer ("ok").
static void pingpong(int out, int in, int rounds) {
  char b[2];
  for (int i = 0; i < rounds; ++i) {
    write(out, "p", 1);
    write(out, "i", 1);
    if (read_full(in, b, 2) != 2 || memcmp(b, "ok", 2)) fail("round %d: no answer", i);
  }
}
static void echo(int in, int out) {
  char b[2];
  while (read_full(in, b, 2) == 2) {
    if (memcmp(b, "pi", 2)) _exit(3);
    write(out, "o", 1);
    write(out, "k", 1);
  }
  _exit(0);
}

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ready, cp[2];
static void* signaller(void* arg) {
  (void)arg;
  write(cp[1], "da", 2);
  write(cp[1], "ta", 2);
  pthread_mutex_lock(&m);
  ready = 1;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&m);
  return NULL;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "pipes")) {
    int a[2], b[2];
    pipe(a);
    pipe(b);
    pid_t pid = fork();
    if (pid == 0) {
      close(a[1]);
      close(b[0]);
      echo(a[0], b[1]);
    }
    close(a[0]);
    close(b[1]);
    pingpong(a[1], b[0], 200);
    close(a[1]);
    int st = wait_status(pid);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
  }
  if (!strcmp(mode, "tcp")) {
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (bind(ls, (struct sockaddr*)&sa, len) || listen(ls, 1) || getsockname(ls, (struct sockaddr*)&sa, &len))
      fail("listen: %s", strerror(errno));
    pid_t pid = fork();
    if (pid == 0) {
      int c = accept(ls, NULL, NULL);
      echo(c, c);
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr*)&sa, len)) fail("connect: %s", strerror(errno));
    pingpong(s, s, 20); // Nagle and delayed ACKs: 40 ms a round without valley
    shutdown(s, SHUT_WR);
    int st = wait_status(pid);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
  }
  if (!strcmp(mode, "waitpid")) {
    int a[2];
    pipe(a);
    pid_t pid = fork();
    if (pid == 0) {
      char b[4];
      close(a[1]);
      _exit(read_full(a[0], b, 4) == 4 && !memcmp(b, "ping", 4) ? 0 : 2);
    }
    close(a[0]);
    write(a[1], "pi", 2);
    write(a[1], "ng", 2);
    int st = wait_status(pid); // a[1] stays open: only the bytes can end the child
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
  }
  if (!strcmp(mode, "fgets")) { // the answer is read inside stdio, which valley does not see
    int q[2], r[2];
    pipe(q);
    pipe(r);
    pid_t pid = fork();
    if (pid == 0) {
      char line[64];
      size_t n = 0;
      while (n < sizeof line - 1 && read(q[0], line + n, 1) == 1 && line[n] != '\n') ++n;
      write(r[1], "answer\n", 7);
      _exit(0);
    }
    write(q[1], "ques", 4);
    write(q[1], "tion\n", 5);
    FILE* in = fdopen(r[0], "r");
    char buf[64];
    if (!fgets(buf, sizeof buf, in) || strcmp(buf, "answer\n")) fail("no answer");
    int st = wait_status(pid);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
  }
  if (!strcmp(mode, "condvar")) { // the handoff is a futex; the reader polls with timeout 0
    pipe(cp);
    pthread_t t;
    pthread_create(&t, NULL, signaller, NULL);
    pthread_mutex_lock(&m);
    while (!ready) pthread_cond_wait(&cv, &m);
    pthread_mutex_unlock(&m);
    struct pollfd p = {.fd = cp[0], .events = POLLIN};
    if (poll(&p, 1, 0) != 1) fail("poll(0) after the signal: no data");
    char b[4];
    if (read(cp[0], b, 4) != 4 || memcmp(b, "data", 4)) fail("read after the signal: short");
    pthread_join(t, NULL);
    return 0;
  }
  if (!strcmp(mode, "kill") || !strcmp(mode, "sem")) {
    // Parent and child share stdout; the parent writes "A", then hands over to the child with a
    // signal (kill + sigwait) or a process-shared semaphore, neither of which valley sees as a
    // flush point; the child writes "B" and leaves. Expected "AB".
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    sem_t* sem = mmap(NULL, sizeof(sem_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    sem_init(sem, 1, 0);
    pid_t pid = fork();
    if (pid == 0) {
      int sig;
      if (!strcmp(mode, "kill")) sigwait(&usr1, &sig);
      else sem_wait(sem);
      write(1, "B", 1);
      _exit(0);
    }
    write(1, "A", 1);
    if (!strcmp(mode, "kill")) kill(pid, SIGUSR1);
    else sem_post(sem);
    nap_ms(100); // the child has written and left by now
    wait_status(pid);
    return 0;
  }
  if (!strcmp(mode, "tail")) { // another process watching a file: it must see each line soon
    int fd = open("log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    for (int i = 1; i <= 8; ++i) {
      write(fd, "line ", 5);
      write(fd, "n\n", 2);
      nap_ms(60);
      if (raw_size("log") != 7 * i) fail("after line %d and 60 ms the file has %lld bytes", i, raw_size("log"));
    }
    return 0;
  }
  fail("mode?");
}
