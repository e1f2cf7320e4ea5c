// SPDX-License-Identifier: MIT
// A baseline for bench/run.sh, not part of valley: the least an interposer that times each
// write() can do. It reads the TSC before and after the real call and adds the difference to
// one global, nothing else. valley's cost above this row is its logging; the row itself is what
// any timing interposer pays on the machine (rdtsc around a syscall, one more indirect call).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <unistd.h>
#include <x86intrin.h>

static ssize_t (*real_write)(int, const void*, size_t);
uint64_t valley_floor_ticks;

ssize_t write(int fd, const void* buf, size_t n) {
  if (!real_write) real_write = (ssize_t(*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
  const uint64_t t0 = __rdtsc();
  const ssize_t r = real_write(fd, buf, n);
  valley_floor_ticks += __rdtsc() - t0;
  return r;
}
