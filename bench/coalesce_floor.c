// SPDX-License-Identifier: MIT
// A baseline for bench/compare.sh, not part of valley: the least a coalescing interposer that
// keeps valley's promises pays per absorbed write. Like valley it stamps each write with the
// TSC (valley needs the time for the gap histogram, the event and the buffer's age bound) and
// takes a lock that a flusher thread could contend for (a locked compare-exchange to take it,
// a locked exchange to give it back, so a waiter can be woken). It copies the bytes into a
// 64 KiB buffer and writes the buffer out when full, before close and at exit. No fd checks,
// no counters, no events, no flusher thread: a floor, not a coalescer. Only for fds above 2.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <x86intrin.h>

static ssize_t (*real_write)(int, const void*, size_t);
static int (*real_close)(int);
static char buf[65536];
static size_t len;
static int buf_fd = -1;
static uint32_t lock;
uint64_t valley_floor_last;

static void resolve(void) {
  if (!real_write) real_write = (ssize_t(*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
  if (!real_close) real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
}

static void take(void) {
  uint32_t free_ = 0;
  while (!__atomic_compare_exchange_n(&lock, &free_, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
    free_ = 0;
}
static void give(void) { __atomic_exchange_n(&lock, 0, __ATOMIC_RELEASE); }

static void flush_locked(void) {
  for (size_t off = 0; off < len;) {
    const ssize_t w = real_write(buf_fd, buf + off, len - off);
    if (w <= 0) break;
    off += (size_t)w;
  }
  len = 0;
}

ssize_t write(int fd, const void* data, size_t n) {
  resolve();
  if (fd < 3 || n > sizeof buf) return real_write(fd, data, n);
  valley_floor_last = __rdtsc();
  take();
  if (len && (buf_fd != fd || len + n > sizeof buf)) flush_locked();
  buf_fd = fd;
  memcpy(buf + len, data, n);
  len += n;
  give();
  return (ssize_t)n;
}

int close(int fd) {
  resolve();
  take();
  if (len && buf_fd == fd) flush_locked();
  give();
  return real_close(fd);
}

__attribute__((destructor)) static void at_exit(void) {
  resolve();
  take();
  if (len) flush_locked();
  give();
}
