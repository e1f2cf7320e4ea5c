// SPDX-License-Identifier: MIT
// A deliberately unsafe write-combining preload, for the hazard tests only (not product code):
// what a first attempt at coalescing looks like. write, writev and send without flags to any fd
// open for writing go into one of 8 per-fd buffers of 64 KiB, written out only when full or in
// this library's destructor. No flush points, no age bound, no errors reported, no threads. Each
// hazard test must see it break what the test checks (tests/coalesce/README.md).
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define NAIVE_EXPORT __attribute__((visibility("default")))

struct buf {
  int fd;
  size_t len;
  char data[65536];
};
static struct buf bufs[8];
static int ready;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int inside; // a signal handler landing while this thread holds the lock

static void flush(struct buf* b) {
  for (size_t done = 0; done < b->len;) {
    long w = syscall(SYS_write, b->fd, b->data + done, b->len - done);
    if (w <= 0) break;
    done += (size_t)w;
  }
  b->len = 0;
}

static int writable(int fd) {
  long fl = syscall(SYS_fcntl, fd, F_GETFL);
  return fl >= 0 && (fl & O_ACCMODE) != O_RDONLY;
}

// Takes the bytes, or returns 0 when the caller must write them itself.
static int take(int fd, const struct iovec* iov, int n) {
  size_t total = 0;
  for (int i = 0; i < n; i++) total += iov[i].iov_len;
  if (inside || n < 0 || n > 1024 || total > sizeof bufs[0].data || !writable(fd)) return 0;
  inside = 1;
  pthread_mutex_lock(&lock);
  if (!ready) {
    for (int i = 0; i < 8; i++) bufs[i].fd = -1;
    ready = 1;
  }
  struct buf* b = NULL;
  for (int i = 0; i < 8; i++)
    if (bufs[i].fd == fd || (!b && bufs[i].fd == -1)) b = &bufs[i];
  if (b && b->fd != fd) {
    b->fd = fd;
    b->len = 0;
  }
  if (b) {
    if (b->len + total > sizeof b->data) flush(b);
    for (int i = 0; i < n; i++) {
      memcpy(b->data + b->len, iov[i].iov_base, iov[i].iov_len);
      b->len += iov[i].iov_len;
    }
  }
  pthread_mutex_unlock(&lock);
  inside = 0;
  return b != NULL;
}

NAIVE_EXPORT ssize_t write(int fd, const void* p, size_t n) {
  struct iovec one = {(void*)p, n};
  if (take(fd, &one, 1)) return (ssize_t)n;
  return syscall(SYS_write, fd, p, n);
}

NAIVE_EXPORT ssize_t writev(int fd, const struct iovec* iov, int n) {
  if (take(fd, iov, n)) {
    size_t total = 0;
    for (int i = 0; i < n; i++) total += iov[i].iov_len;
    return (ssize_t)total;
  }
  return syscall(SYS_writev, fd, iov, n);
}

NAIVE_EXPORT ssize_t send(int fd, const void* p, size_t n, int flags) {
  struct iovec one = {(void*)p, n};
  if (flags == 0 && take(fd, &one, 1)) return (ssize_t)n;
  return syscall(SYS_sendto, fd, p, n, flags, NULL, 0);
}

__attribute__((destructor)) static void naive_final(void) {
  pthread_mutex_lock(&lock);
  for (int i = 0; ready && i < 8; i++)
    if (bufs[i].fd >= 0) flush(&bufs[i]);
  ready = 0; // later writes go straight through
  pthread_mutex_unlock(&lock);
}
