// SPDX-License-Identifier: MIT
/// @file policy.cpp
/// @brief Which writes may be buffered: the fd's verdict (kind, open flags, path, stdio), the
/// call site's, and what each fd has shown since (its blocking mode, shutdown, request/response
/// traffic). Verdicts are cached per fd and FileRow id, and per call site.
#include "buffer.h"

#include "recorder.h"
#include "sys.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace valley::shim {
namespace coalesce {
namespace {

constexpr uint32_t kSiteSlots = 4096;

// A fork child numbers its FileRows and call sites afresh: verdicts cached before are not its.
constinit std::atomic<uint64_t> g_fork_gen{1};

// fd: fork generation (16) << 40 | FileRow id (24) << 8 | Straight verdict << 1 | valid.
constinit std::atomic<uint64_t> g_fd_verdict[kFdSlots]{};
// site id: fork generation << 2 | allowed << 1 | valid.
constinit std::atomic<uint64_t> g_site_verdict[kSiteSlots]{};

// B-18.2: O_NONBLOCK (and O_DIRECT, O_SYNC) belong to the open file description, which a dup,
// ioctl(FIONBIO) or another process may change behind the fd number's cached verdict. Each fd's
// F_GETFL is kept as gen << 1 | unfit and read again after any F_SETFL or FIONBIO in the
// process, before the fd's next buffer.
constinit std::atomic<uint32_t> g_flags_gen{1};
constinit std::atomic<uint32_t> g_flags_seen[kFdSlots]{};

struct FdBits {
  std::atomic<uint64_t> w[kFdSlots / 64];
  void set(int fd, bool on) {
    if (fd < 0 || fd >= kFdSlots) return;
    const uint64_t bit = uint64_t{1} << (fd % 64);
    if (on)
      w[fd / 64].fetch_or(bit, std::memory_order_relaxed);
    else
      w[fd / 64].fetch_and(~bit, std::memory_order_relaxed);
  }
  bool test(int fd) const {
    return fd >= 0 && fd < kFdSlots && (w[fd / 64].load(std::memory_order_relaxed) >> (fd % 64) & 1);
  }
};
constinit FdBits g_stdio_fds{}; // fdopen'ed: stdio writes them too
constinit FdBits g_shut_fds{};  // shut down for writing: every write fails with EPIPE (B-18.1)

// Request/response traffic (write a request, read the answer) flushes every buffer after a
// single write: buffering it saves no syscall and costs a poll and a copy. After kLoneLimit
// such buffers in a row an fd is written straight through; every kLoneRetry-th write on it
// tries the buffer again, in case the program moved on to a bulk phase.
constexpr uint8_t kLoneLimit = 8;
constexpr uint8_t kLoneRetry = 64;
constinit std::atomic<uint8_t> g_lone[kFdSlots]{};

bool unfit_flags(int fl) { return fl < 0 || (fl & (O_NONBLOCK | O_SYNC | O_DSYNC | O_DIRECT)); }

bool matches_any(const char* list, char sep, const char* text) {
  char pat[256];
  size_t n = 0;
  for (const char* p = list;; ++p) {
    if (*p == sep || *p == '\0') {
      pat[n] = '\0';
      if (n && fnmatch(pat, text, 0) == 0) return true;
      n = 0;
      if (!*p) return false;
    } else if (n + 1 < sizeof pat) {
      pat[n++] = *p;
    }
  }
}

bool in_list(const char* list, const char* entry) {
  const size_t n = str_len(entry);
  for (const char* p = list; *p;) {
    const char* end = p;
    while (*end && *end != ',') ++end;
    if (static_cast<size_t>(end - p) == n && __builtin_memcmp(p, entry, n) == 0) return true;
    p = *end ? end + 1 : end;
  }
  return false;
}

// Whether writes to fd may be buffered, from its kind, open flags and path: Straight::none, or
// why not.
Straight decide_fd(int fd, FdKind kind, uint32_t file) {
  const int fl = static_cast<int>(::syscall(SYS_fcntl, fd, F_GETFL));
  if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY) return Straight::fd;
  note_flags(fd, unfit_flags(fl));
  // stdio writes fds 0-2 (and any fdopen'ed fd) behind valley's back: buffering next to it
  // would reorder the output (B-01). fds 0-2 only on request (VALLEY_COALESCE_STDIO).
  if ((fd <= 2 && !g_coalesce.stdio) || g_stdio_fds.test(fd)) return Straight::stdio;
  // With a file size limit, EFBIG and SIGXFSZ must come at the very write that crosses it.
  if (kind == FdKind::regular) {
    rlimit lim{};
    if (getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) return Straight::fsize;
  }
  // Never: per-message or per-command semantics, durability on every write, and non-blocking
  // fds, whose EAGAIN backpressure a buffer would hide.
  if (unfit_flags(fl)) return Straight::flags;
  if (!(g_coalesce.kinds & (1u << static_cast<uint8_t>(kind)))) return Straight::kind;
  switch (kind) {
  case FdKind::regular: case FdKind::pipe: case FdKind::fifo: case FdKind::tcp:
  case FdKind::unix_stream:
    break;
  default: return Straight::kind;
  }
  if (!g_coalesce.paths[0]) return Straight::none;
  char path[kPathMax];
  if (!file_path(file, path, sizeof path)) {
    char link[40];
    Text(link, sizeof link).str("/proc/self/fd/").num(static_cast<uint64_t>(fd));
    const ssize_t n = sys::readlink(link, path, sizeof path - 1);
    path[n > 0 ? n : 0] = '\0';
  }
  return matches_any(g_coalesce.paths, ':', path) ? Straight::none : Straight::path;
}

// The fd's verdict, cached in bits 1-7 of its slot beside the tag.
Straight fd_eligible(int fd, FdKind kind, uint32_t file) {
  const uint64_t tag = g_fork_gen.load(std::memory_order_relaxed) << 40 | uint64_t{file} << 8 | 1;
  const bool slot = fd >= 0 && fd < kFdSlots && file != 0;
  if (slot) {
    const uint64_t v = g_fd_verdict[fd].load(std::memory_order_relaxed);
    if ((v & ~uint64_t{0xfe}) == tag) return static_cast<Straight>((v >> 1) & 0x7f);
  }
  const Straight why = decide_fd(fd, kind, file);
  if (slot) g_fd_verdict[fd].store(tag | uint64_t{static_cast<uint8_t>(why)} << 1, std::memory_order_relaxed);
  return why;
}

bool site_eligible(uint32_t site, uint64_t ra) {
  if (!g_coalesce.sites[0]) return true;
  const uint64_t tag = g_fork_gen.load(std::memory_order_relaxed) << 2 | 1;
  const bool slot = site < kSiteSlots;
  if (slot) {
    const uint64_t v = g_site_verdict[site].load(std::memory_order_relaxed);
    if ((v & ~uint64_t{2}) == tag) return v & 2;
  }
  char entry[kPathMax + 24];
  const bool ok = site_name(ra, entry, sizeof entry) && in_list(g_coalesce.sites, entry);
  if (slot) g_site_verdict[site].store(tag | (ok ? 2 : 0), std::memory_order_relaxed);
  return ok;
}

// Whether the fd's open file description still blocks (and was not shut down for writing).
bool flags_fit(int fd) {
  if (g_shut_fds.test(fd)) return false;
  const uint32_t gen = g_flags_gen.load(std::memory_order_acquire);
  if (fd >= 0 && fd < kFdSlots) {
    const uint32_t v = g_flags_seen[fd].load(std::memory_order_relaxed);
    if (v >> 1 == (gen & 0x7fffffff)) return !(v & 1);
  }
  const bool unfit = unfit_flags(static_cast<int>(::syscall(SYS_fcntl, fd, F_GETFL)));
  note_flags(fd, unfit);
  return !unfit;
}

// True when this write on fd should skip the buffer.
bool lone_writer(int fd) {
  if (fd < 0 || fd >= kFdSlots) return false;
  const uint8_t v = g_lone[fd].load(std::memory_order_relaxed);
  if (v < kLoneLimit) return false;
  const bool retry = v - kLoneLimit + 1 >= kLoneRetry;
  g_lone[fd].store(retry ? kLoneLimit - 1 : v + 1, std::memory_order_relaxed);
  return !retry;
}

} // namespace

Straight may_buffer(const OfferedWrite& w) {
  if (const Straight why = fd_eligible(w.fd, w.kind, w.file); why != Straight::none) return why;
  if (!site_eligible(w.site, w.ra)) return Straight::site;
  if (!flags_fit(w.fd)) return Straight::flags;
  return lone_writer(w.fd) ? Straight::lone : Straight::none;
}

void note_flags(int fd, bool unfit) {
  const uint32_t gen = g_flags_gen.load(std::memory_order_acquire);
  if (fd >= 0 && fd < kFdSlots)
    g_flags_seen[fd].store((gen & 0x7fffffff) << 1 | unfit, std::memory_order_relaxed);
}

// Written only while the buffer is held; the straight-through path counts on it racily,
// which at worst retries the buffer a little early or late.
void note_flushed_writes(int fd, uint32_t writes) {
  if (fd < 0 || fd >= kFdSlots) return;
  const uint8_t v = g_lone[fd].load(std::memory_order_relaxed);
  g_lone[fd].store(writes > 1 ? 0 : v < kLoneLimit ? v + 1 : v, std::memory_order_relaxed);
}

void new_fork_generation() { g_fork_gen.fetch_add(1, std::memory_order_relaxed); }

} // namespace coalesce

using namespace coalesce;

void coalesce_flags_changed() { g_flags_gen.fetch_add(1, std::memory_order_acq_rel); }

void coalesce_shut_for_writing(int fd) { g_shut_fds.set(fd, true); }

void coalesce_forget_fd(int fd) {
  if (fd < 0 || fd >= kFdSlots) return;
  g_lone[fd].store(0, std::memory_order_relaxed);
  g_flags_seen[fd].store(0, std::memory_order_relaxed);
  g_shut_fds.set(fd, false);
  g_stdio_fds.set(fd, false);
}

void note_stdio_fd(int fd, bool on) { g_stdio_fds.set(fd, on); }

} // namespace valley::shim
