// SPDX-License-Identifier: MIT
#include "coverage.h"

#include "sys.h"

#include <atomic>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace valley::shim {
namespace {

struct IoCounts {
  uint64_t rchar, wchar, syscr, syscw;
  bool ok;
};
constinit IoCounts g_io_start{};

uint64_t field(const char* text, const char* name) {
  for (const char* p = text; *p; ++p) {
    if ((p == text || p[-1] == '\n') && starts_with(p, name)) {
      p += str_len(name);
      while (*p == ' ') ++p;
      uint64_t v = 0;
      while (*p >= '0' && *p <= '9') v = v * 10 + static_cast<uint64_t>(*p++ - '0');
      return v;
    }
  }
  return 0;
}

void parse_io(const char* buf, IoCounts* c) {
  c->rchar += field(buf, "rchar:");
  c->wchar += field(buf, "wchar:");
  c->syscr += field(buf, "syscr:");
  c->syscw += field(buf, "syscw:");
  c->ok = true;
}

void add_io(const char* path, IoCounts* c) {
  char buf[512];
  if (sys::read_file(path, buf, sizeof buf) > 0) parse_io(buf, c);
}

// Threads that ended: what each had counted when it left (thread_exited), and its tid, whose
// task entry may still be listed for a moment after pthread_join returns. A seqlock: readers
// retry when a thread ended while they looked.
constexpr uint32_t kExitedTids = 1024;
struct Exited {
  pthread_mutex_t lock;
  std::atomic<uint32_t> seq;
  std::atomic<uint64_t> rchar, wchar, syscr, syscw;
  std::atomic<uint32_t> tids[kExitedTids];
  uint32_t next;
};
constinit Exited g_exited{PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0, {}, 0};

// What this thread added to that sum (ok: it did). glibc ends the process in the last thread
// to return (B-18.7), after that thread's end was counted: it then takes the final count
// itself, and only what it did since (the final drain) is still to be added.
constinit thread_local IoCounts t_posted __attribute__((tls_model("initial-exec"))){};

bool exited_tid(uint32_t tid) {
  for (uint32_t i = 0; i < kExitedTids; ++i)
    if (g_exited.tids[i].load(std::memory_order_relaxed) == tid) return true;
  return false;
}

// The sum over the threads still listed, without those already counted as ended. This
// thread's own figure is taken first: the kernel adds each read of /proc to the reading thread
// only after answering it, so none of the reads made here is in the sum (the caller took
// valley's own count before them).
IoCounts live_io() {
  IoCounts self{};
  add_io("/proc/thread-self/io", &self);
  if (!self.ok) return self;
  IoCounts c = self;
  if (t_posted.ok) {
    auto since = [](uint64_t now, uint64_t then) { return now > then ? now - then : 0; };
    c.rchar = since(self.rchar, t_posted.rchar);
    c.wchar = since(self.wchar, t_posted.wchar);
    c.syscr = since(self.syscr, t_posted.syscr);
    c.syscw = since(self.syscw, t_posted.syscw);
  }
  const uint64_t me = static_cast<uint64_t>(sys::gettid());
  int dir = sys::open("/proc/self/task", O_RDONLY | O_DIRECTORY);
  if (dir < 0) return IoCounts{};
  char buf[2048];
  for (;;) {
    long n = ::syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<dirent64*>(buf + off);
      uint64_t tid = 0;
      if (parse_u64(d->d_name, &tid) && tid != me && !exited_tid(static_cast<uint32_t>(tid))) {
        char path[64];
        Text(path, sizeof path).str("/proc/self/task/").str(d->d_name).str("/io");
        add_io(path, &c);
      }
      off += d->d_reclen;
    }
  }
  sys::close(dir);
  return c;
}

// The kernel's read/write counts of this process: its live threads plus the threads that
// ended. Not /proc/self/io, which also adds in every child the process has waited for (a child
// reaped by waitpid moves its counts into its parent's there).
IoCounts read_io() {
  IoCounts c{};
  for (int tries = 0; tries < 8; ++tries) {
    const uint32_t s1 = g_exited.seq.load(std::memory_order_acquire);
    if (s1 & 1) {
      const timespec nap{0, 20000};
      clock_nanosleep(CLOCK_MONOTONIC, 0, &nap, nullptr);
      continue;
    }
    c = live_io();
    c.rchar += g_exited.rchar.load(std::memory_order_relaxed);
    c.wchar += g_exited.wchar.load(std::memory_order_relaxed);
    c.syscr += g_exited.syscr.load(std::memory_order_relaxed);
    c.syscw += g_exited.syscw.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (g_exited.seq.load(std::memory_order_relaxed) == s1) break;
  }
  return c;
}

} // namespace

void coverage_start() {
  // A fork child: the parent's ended threads are not the child's (and a thread that held the
  // lock at fork does not exist here).
  pthread_mutex_init(&g_exited.lock, nullptr);
  g_exited.seq.store(0);
  g_exited.rchar.store(0);
  g_exited.wchar.store(0);
  g_exited.syscr.store(0);
  g_exited.syscw.store(0);
  for (auto& t : g_exited.tids)
    t.store(0, std::memory_order_relaxed);
  g_exited.next = 0;
  t_posted = IoCounts{};
  g_io_start = read_io();
}

void coverage_thread_exited(uint32_t tid) {
  // Raw calls, not counted as valley's own I/O: the kernel adds this read to the thread only
  // after answering it, so it is in neither figure.
  char buf[512];
  const int fd = sys::open("/proc/thread-self/io", O_RDONLY);
  if (fd < 0) return;
  const long n = ::syscall(SYS_read, fd, buf, sizeof buf - 1);
  ::syscall(SYS_close, fd);
  if (n <= 0) return;
  buf[n] = '\0';
  IoCounts c{};
  parse_io(buf, &c);
  // This read is then the thread's too: still in neither figure if the thread counts on.
  t_posted = c;
  t_posted.rchar += static_cast<uint64_t>(n);
  t_posted.syscr += 1;
  pthread_mutex_lock(&g_exited.lock);
  g_exited.seq.fetch_add(1, std::memory_order_acq_rel);
  g_exited.rchar.fetch_add(c.rchar, std::memory_order_relaxed);
  g_exited.wchar.fetch_add(c.wchar, std::memory_order_relaxed);
  g_exited.syscr.fetch_add(c.syscr, std::memory_order_relaxed);
  g_exited.syscw.fetch_add(c.syscw, std::memory_order_relaxed);
  g_exited.tids[g_exited.next++ % kExitedTids].store(tid, std::memory_order_relaxed);
  g_exited.seq.fetch_add(1, std::memory_order_release);
  pthread_mutex_unlock(&g_exited.lock);
}

void coverage_kernel_side(Coverage* c) {
  // Valley's own reads and writes (draining, /proc) are not the program's. Taken before the
  // final /proc read, whose own counts the kernel adds only after answering it.
  sys::OwnIo own = sys::own_io();
  IoCounts now = read_io();
  if (!now.ok || !g_io_start.ok) return;
  auto sub = [](uint64_t a, uint64_t b) { return a > b ? a - b : 0; };
  c->kernel_syscr = sub(now.syscr - g_io_start.syscr, own.reads);
  c->kernel_syscw = sub(now.syscw - g_io_start.syscw, own.writes);
  c->kernel_rchar = sub(now.rchar - g_io_start.rchar, own.rbytes);
  c->kernel_wchar = sub(now.wchar - g_io_start.wchar, own.wbytes);
  c->valid = 1;
}

} // namespace valley::shim
