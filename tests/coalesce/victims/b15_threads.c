// B-15: 8 threads x 20,000 writes of "<t>:<seq>\n" to one pipe, then 1000 mutex-ordered
// X/Y handoffs; a reader thread checks order and counts after the write end is closed.
// "late-reader": the main thread fills a one-page pipe while a reader thread that has made no
// call yet sleeps; its first read comes while the main thread is blocked in a flush, and must
// drain the pipe, not wait for that flush or repeat it. Before each read the reader logs a
// byte to a file: that write must not wait for the main thread's flush either.
#include "common.h"
#include <pthread.h>

enum { T = 8, N = 20000, H = 1000 };
static int p[2];
static char* got;
static size_t got_len;

static void* reader(void* arg) {
  (void)arg;
  size_t cap = 1 << 22;
  got = malloc(cap);
  for (;;) {
    if (got_len == cap) got = realloc(got, cap *= 2);
    ssize_t r = read(p[0], got + got_len, cap - got_len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got_len += (size_t)r;
  }
  return NULL;
}

static void* writer(void* arg) {
  int t = (int)(intptr_t)arg;
  char b[32];
  for (int i = 0; i < N; ++i) write(p[1], b, (size_t)snprintf(b, sizeof b, "%d:%d\n", t, i));
  return NULL;
}

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn; // 0: X's turn, 1: Y's
static void* handoff(void* arg) {
  int me = (int)(intptr_t)arg;
  for (int i = 0; i < H; ++i) {
    pthread_mutex_lock(&m);
    while (turn != me) pthread_cond_wait(&cv, &m);
    write(p[1], me ? "Y\n" : "X\n", 2);
    turn = !me;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&m);
  }
  return NULL;
}

enum { LR = 1000 };
static int late_bad = -1; // offset of the first wrong byte
static int late_log, late_reads;

static void* late_reader(void* arg) {
  (void)arg;
  nap_ms(300);
  char b[4096];
  size_t at = 0;
  for (;;) {
    write(late_log, "r", 1);
    ++late_reads;
    ssize_t r = read(p[0], b, sizeof b);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    for (ssize_t i = 0; i < r; ++i, ++at) {
      char want = at % 100 == 99 ? '\n' : (char)('a' + at / 100 % 26);
      if (b[i] != want && late_bad < 0) late_bad = (int)at;
    }
  }
  if (at != 100u * LR && late_bad < 0) late_bad = (int)at;
  return NULL;
}

static int late_reader_main(void) {
  pipe(p);
  if (fcntl(p[0], F_SETPIPE_SZ, 4096) < 0) fail("F_SETPIPE_SZ: %s", strerror(errno));
  late_log = open("reads.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const uint64_t t0 = now_ns();
  pthread_t r;
  pthread_create(&r, NULL, late_reader, NULL);
  char rec[100];
  for (int i = 0; i < LR; ++i) {
    memset(rec, 'a' + i % 26, 99);
    rec[99] = '\n';
    write(p[1], rec, 100);
  }
  close(p[1]);
  pthread_join(r, NULL);
  if (late_bad >= 0) fail("the reader's bytes go wrong at offset %d", late_bad);
  close(late_log);
  struct stat st;
  if (stat("reads.log", &st) != 0 || st.st_size != late_reads)
    fail("reads.log has %ld bytes for %d reads", (long)st.st_size, late_reads);
  // 300 ms of the reader's nap and a few ms of transfer; a reader that waited for the main
  // thread's window (valley gives up after 1 s) would take longer than this.
  if (now_ns() - t0 > 900000000u) fail("took %llu ms", (unsigned long long)((now_ns() - t0) / 1000000));
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 1 && !strcmp(argv[1], "late-reader")) return late_reader_main();
  pipe(p);
  pthread_t r, w[T], h[2];
  pthread_create(&r, NULL, reader, NULL);
  for (int t = 0; t < T; ++t) pthread_create(&w[t], NULL, writer, (void*)(intptr_t)t);
  for (int t = 0; t < T; ++t) pthread_join(w[t], NULL);
  for (int i = 0; i < 2; ++i) pthread_create(&h[i], NULL, handoff, (void*)(intptr_t)i);
  for (int i = 0; i < 2; ++i) pthread_join(h[i], NULL);
  close(p[1]);
  pthread_join(r, NULL);
  int next[T] = {0}, xy = 0;
  char* s = got;
  char* end = got + got_len;
  while (s < end) {
    char* nl = memchr(s, '\n', (size_t)(end - s));
    if (!nl) fail("unterminated line at byte %zd", s - got);
    *nl = 0;
    int t, i;
    if (s[0] == 'X' || s[0] == 'Y') {
      if (s[0] != (xy % 2 ? 'Y' : 'X')) fail("handoff %d: %s out of order", xy, s);
      ++xy;
    } else if (sscanf(s, "%d:%d", &t, &i) == 2 && t >= 0 && t < T) {
      if (i != next[t]) fail("thread %d: %d after %d", t, i, next[t] - 1);
      ++next[t];
    } else {
      fail("bad line '%s'", s);
    }
    s = nl + 1;
  }
  for (int t = 0; t < T; ++t)
    if (next[t] != N) fail("thread %d: %d lines, not %d", t, next[t], N);
  if (xy != 2 * H) fail("%d handoff lines, not %d", xy, 2 * H);
  return 0;
}
