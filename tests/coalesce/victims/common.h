// SPDX-License-Identifier: MIT
// Shared by the coalescer hazard victims (HAZARDS.md section 2). A victim exits 0 when the
// hazard's expectation held, 1 (with the reason on stderr) when it did not; a hang is ended by
// the test's `timeout`. Diagnostics go through stdio's stderr, which valley never buffers.
#pragma once
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline void fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("FAIL: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static inline uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static inline void nap_ms(long ms) { // nanosleep: valley does not intercept it, so it flushes nothing
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {
  }
}

// File size as the kernel sees it, through raw syscalls valley does not intercept: an
// observer that cannot trigger a flush.
static inline long long raw_size(const char* path) {
  struct stat st;
  if (syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0) != 0) return -1;
  return (long long)st.st_size;
}

// Reads exactly n bytes (or until EOF); returns the count.
static inline size_t read_full(int fd, void* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = read(fd, (char*)buf + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    done += (size_t)r;
  }
  return done;
}

static inline void write_full(int fd, const void* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = write(fd, (const char*)buf + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("write: %s", strerror(errno));
    done += (size_t)w;
  }
}

// Small writes to a regular file, so that every victim leaves coalescing evidence in its
// trace even where the hazard's own fd must never be buffered.
static inline void warm(void) {
  int fd = open("warm.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail("open warm.log: %s", strerror(errno));
  for (int i = 0; i < 16; ++i) write(fd, "w\n", 2);
  close(fd);
}

static inline int wait_status(pid_t pid) {
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return st;
}
