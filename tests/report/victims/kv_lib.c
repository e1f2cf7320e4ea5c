// A library doing its I/O in three static functions behind one exported entry point, as
// libsqlite3 does: kv_put writes a record (LIB_PUT), kv_log writes a log line (LIB_LOG),
// kv_get reads a record back (LIB_GET). Built -O2 -g: each helper is called once and inlined
// into kv_apply, so each call keeps its own return address inside kv_apply.
#include <stdio.h>
#include <unistd.h>

long kv_apply(int data_fd, int log_fd, int key);

static long kv_errors;

static void kv_put(int fd, int key) {
  char rec[24];
  int n = snprintf(rec, sizeof rec, "put %06d\n", key);
  if (write(fd, rec, (size_t)n) != n) kv_errors++; // LIB_PUT
}

static void kv_log(int fd, int key) {
  char line[32];
  int n = snprintf(line, sizeof line, "log key=%06d\n", key);
  if (write(fd, line, (size_t)n) != n) kv_errors += 2; // LIB_LOG
}

static void kv_get(int fd, int key) {
  char rec[12];
  if (pread(fd, rec, sizeof rec, 0) < 0) kv_errors += key; // LIB_GET
}

long kv_apply(int data_fd, int log_fd, int key) {
  switch (key % 3) {
  case 0: kv_put(data_fd, key); break;
  case 1: kv_log(log_fd, key); break;
  default: kv_get(data_fd, key); break;
  }
  return kv_errors;
}
