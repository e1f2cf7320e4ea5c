// SPDX-License-Identifier: MIT
#include "sys.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

namespace valley::shim::sys {
namespace {
constinit std::atomic<uint64_t> g_own_reads{0}, g_own_writes{0}, g_own_rbytes{0}, g_own_wbytes{0};
}

int off_low_numbers(int fd) {
  if (fd < 0 || fd >= kHighFd) return fd;
  rlimit lim{};
  if (::syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, nullptr, &lim) != 0) return fd;
  const uint64_t top = lim.rlim_cur == RLIM_INFINITY ? uint64_t{kHighFd} + 64 : lim.rlim_cur;
  if (top < 128) return fd; // a limit this tight leaves no room above the program's fds
  const int want = static_cast<int>(top - 64 < uint64_t{kHighFd} ? top - 64 : kHighFd);
  if (fd >= want) return fd;
  const int high = static_cast<int>(::syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, want));
  if (high < 0) return fd;
  ::syscall(SYS_close, fd);
  return high;
}

int open(const char* path, int flags, int mode) {
  return off_low_numbers(
      static_cast<int>(::syscall(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, mode)));
}
int close(int fd) { return static_cast<int>(::syscall(SYS_close, fd)); }
ssize_t read(int fd, void* buf, size_t n) {
  g_own_reads.fetch_add(1, std::memory_order_relaxed);
  ssize_t r = ::syscall(SYS_read, fd, buf, n);
  if (r > 0) g_own_rbytes.fetch_add(static_cast<uint64_t>(r), std::memory_order_relaxed);
  return r;
}
bool write_all(int fd, const void* buf, size_t n) {
  auto* p = static_cast<const char*>(buf);
  while (n > 0) {
    g_own_writes.fetch_add(1, std::memory_order_relaxed);
    ssize_t r = ::syscall(SYS_write, fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    g_own_wbytes.fetch_add(static_cast<uint64_t>(r), std::memory_order_relaxed);
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}
ssize_t readlink(const char* path, char* buf, size_t n) {
  return ::syscall(SYS_readlinkat, AT_FDCWD, path, buf, n);
}
int mkdir(const char* path, int mode) {
  return static_cast<int>(::syscall(SYS_mkdirat, AT_FDCWD, path, mode));
}
pid_t getpid() { return static_cast<pid_t>(::syscall(SYS_getpid)); }

bool copy_from_program(void* out, const void* addr, size_t n) {
  if (n == 0) return true;
  if (!addr) return false;
  const int saved = errno;
  const iovec local{out, n};
  const iovec remote{const_cast<void*>(addr), n};
  const long got =
      ::syscall(SYS_process_vm_readv, static_cast<long>(getpid()), &local, 1L, &remote, 1L, 0L);
  errno = saved;
  return got == static_cast<long>(n);
}

bool copy_string_from_program(char* out, const char* addr, size_t cap) {
  if (cap == 0) return false;
  out[0] = '\0';
  constexpr uintptr_t kPage = 4096;
  size_t len = 0;
  while (len + 1 < cap) {
    // Up to the end of the page: a page is readable or not as a whole.
    const uintptr_t at = reinterpret_cast<uintptr_t>(addr) + len;
    size_t chunk = kPage - at % kPage;
    if (chunk > cap - 1 - len) chunk = cap - 1 - len;
    if (!copy_from_program(out + len, addr + len, chunk)) break;
    const void* nul = memchr(out + len, '\0', chunk);
    if (nul) return true;
    len += chunk;
  }
  out[len] = '\0';
  return len > 0;
}

bool shares_parent_memory() {
  constexpr int kKcmpVm = 1; // KCMP_VM in linux/kcmp.h
  const long self = ::syscall(SYS_getpid), parent = ::syscall(SYS_getppid);
  // kcmp may be missing or forbidden (container seccomp profiles): then assume a vfork child,
  // whose bytes must go out, rather than a copy's double.
  return ::syscall(SYS_kcmp, self, parent, kKcmpVm, 0, 0) <= 0;
}
int fstat(int fd, struct ::stat* st) { return static_cast<int>(::syscall(SYS_fstat, fd, st)); }
int lstat(const char* path, struct ::stat* st) {
  return static_cast<int>(::syscall(SYS_newfstatat, AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW));
}
int ioctl(int fd, unsigned long req, void* arg) {
  return static_cast<int>(::syscall(SYS_ioctl, fd, req, arg));
}
void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  return reinterpret_cast<void*>(::syscall(SYS_mmap, addr, len, prot, flags, fd, off));
}
pid_t gettid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

ssize_t read_file(const char* path, char* buf, size_t n) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  size_t got = 0;
  while (got + 1 < n) {
    ssize_t r = read(fd, buf + got, n - 1 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  close(fd);
  buf[got] = '\0';
  return static_cast<ssize_t>(got);
}

uint64_t file_size_limit() {
  struct rlimit lim;
  if (::syscall(SYS_prlimit64, 0, RLIMIT_FSIZE, nullptr, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY)
    return ~uint64_t{0};
  return lim.rlim_cur;
}

bool file_may_reach(uint64_t end) { return end <= file_size_limit(); }

OwnIo own_io() {
  return {g_own_reads.load(std::memory_order_relaxed), g_own_writes.load(std::memory_order_relaxed),
          g_own_rbytes.load(std::memory_order_relaxed), g_own_wbytes.load(std::memory_order_relaxed)};
}

void reset_own_io() {
  g_own_reads.store(0);
  g_own_writes.store(0);
  g_own_rbytes.store(0);
  g_own_wbytes.store(0);
}

void note_own_write(uint64_t bytes) {
  g_own_writes.fetch_add(1, std::memory_order_relaxed);
  g_own_wbytes.fetch_add(bytes, std::memory_order_relaxed);
}

} // namespace valley::shim::sys

namespace valley::shim {

Text& Text::str(const char* s) {
  while (s && *s) chr(*s++);
  return *this;
}
Text& Text::chr(char c) {
  if (len_ + 1 < cap_) {
    buf_[len_++] = c;
    buf_[len_] = '\0';
  } else {
    truncated_ = true;
  }
  return *this;
}
Text& Text::num(uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) chr(tmp[--n]);
  return *this;
}

Text& Text::hex(uint64_t v) {
  char tmp[17];
  int n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  while (n) chr(tmp[--n]);
  return *this;
}

bool parse_u64(const char* s, uint64_t* out) {
  if (!s || !*s) return false;
  uint64_t v = 0;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9') return false;
    uint64_t d = static_cast<uint64_t>(*s - '0');
    if (v > (~uint64_t{0} - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}
bool starts_with(const char* s, const char* prefix) {
  while (*prefix)
    if (*s++ != *prefix++) return false;
  return true;
}
size_t str_len(const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}
void str_copy(char* dst, const char* src, size_t cap) {
  size_t i = 0;
  for (; src && src[i] && i + 1 < cap; ++i) dst[i] = src[i];
  dst[i] = '\0';
}

} // namespace valley::shim
