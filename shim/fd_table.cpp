// SPDX-License-Identifier: MIT
#include "fd_table.h"

#include "hot.h"
#include "sys.h"

#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <termios.h>
#include <unistd.h>

namespace valley::shim {
namespace {

constexpr int kSlots = 65536; // fds above this are classified on every call, never cached

// Slot word: generation (16) | file id (24) | kind (8) | flags (8: bit 0 valid): packed so
// one atomic load answers the hot path.
struct Slot {
  std::atomic<uint64_t> word;
};
constinit Slot g_slots[kSlots]{};
VALLEY_HOT_DATA constinit std::atomic<uint64_t> g_gen{1};

constexpr uint64_t kValid = 1;

constexpr uint64_t pack(uint64_t gen, uint32_t file, FdKind kind) {
  return gen << 48 | uint64_t{file} << 16 | uint64_t{static_cast<uint8_t>(kind)} << 8 | kValid;
}

// Filesystem magics (linux/magic.h) that make a regular file a /proc or /sys file.
constexpr long kProcMagic = 0x9fa0, kSysfsMagic = 0x62656572, kCgroupMagic = 0x27e0eb,
               kCgroup2Magic = 0x63677270, kDebugfsMagic = 0x64626720, kTracefsMagic = 0x74726163;

FdKind classify_socket(int fd) {
  int domain = 0, type = 0;
  socklen_t len = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return FdKind::other_socket;
  len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return FdKind::other_socket;
  if (domain == AF_INET || domain == AF_INET6) {
    if (type == SOCK_STREAM) return FdKind::tcp;
    if (type == SOCK_DGRAM) return FdKind::udp;
  } else if (domain == AF_UNIX) {
    if (type == SOCK_STREAM) return FdKind::unix_stream;
    if (type == SOCK_DGRAM) return FdKind::unix_dgram;
    if (type == SOCK_SEQPACKET) return FdKind::unix_seqpacket;
  }
  return FdKind::other_socket;
}

FdKind classify_anon(const char* path) {
  const char* p = path + 11; // after "anon_inode:"
  if (starts_with(p, "[eventfd]")) return FdKind::eventfd;
  if (starts_with(p, "[timerfd]")) return FdKind::timerfd;
  if (starts_with(p, "[signalfd]")) return FdKind::signalfd;
  if (starts_with(p, "inotify")) return FdKind::inotify;
  if (starts_with(p, "[eventpoll]")) return FdKind::epoll;
  return FdKind::anon_other;
}

// Whether Nagle's algorithm and corking are on: what a small write on the socket costs.
uint8_t tcp_bits(int fd) {
  int nodelay = 0, cork = 0;
  socklen_t len = sizeof nodelay;
  if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) != 0) return 0;
  len = sizeof cork;
  if (getsockopt(fd, IPPROTO_TCP, TCP_CORK, &cork, &len) != 0) return 0;
  return static_cast<uint8_t>(kFileTcpValid | (nodelay ? kFileTcpNodelay : 0) | (cork ? kFileTcpCork : 0));
}

uint32_t add_file_row(Segment& seg, int fd, FdKind kind, const char* path, uint64_t now, uint8_t bits = 0) {
  SegmentHeader* h = seg.hdr;
  uint32_t i = at(h->files_used).fetch_add(1, std::memory_order_relaxed);
  if (i >= h->files.capacity || !segment_ensure(seg, &seg.files[i], sizeof(FileRow))) {
    at(h->files_used).fetch_sub(1, std::memory_order_relaxed);
    at(h->files_full).fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  FileRow& r = seg.files[i];
  r.fd = fd;
  r.kind = static_cast<uint8_t>(kind);
  r.first_ticks = now;
  r.reserved[0] = bits;
  str_copy(r.path, path, sizeof r.path);
  return i + 1;
}

} // namespace

FdKind classify_fd(int fd, char* path, size_t cap, uint8_t* bits) {
  if (bits) *bits = 0;
  char link[40];
  Text(link, sizeof link).str("/proc/self/fd/").num(static_cast<uint64_t>(fd));
  ssize_t n = sys::readlink(link, path, cap - 1);
  path[n > 0 ? n : 0] = '\0';
  struct stat st;
  if (sys::fstat(fd, &st) != 0) return errno == EBADF ? FdKind::bad : FdKind::unknown;
  if (starts_with(path, "anon_inode:")) return classify_anon(path);
  switch (st.st_mode & S_IFMT) {
  case S_IFREG: {
    struct statfs fs;
    if (fstatfs(fd, &fs) == 0) {
      if (fs.f_type == kProcMagic) return FdKind::procfs;
      if (fs.f_type == kSysfsMagic || fs.f_type == kCgroupMagic || fs.f_type == kCgroup2Magic ||
          fs.f_type == kDebugfsMagic || fs.f_type == kTracefsMagic)
        return FdKind::sysfs;
    }
    return FdKind::regular;
  }
  case S_IFIFO: return starts_with(path, "pipe:") ? FdKind::pipe : FdKind::fifo;
  case S_IFSOCK: {
    const FdKind k = classify_socket(fd);
    if (bits && k == FdKind::tcp) *bits = tcp_bits(fd);
    return k;
  }
  case S_IFCHR: {
    termios t;
    return sys::ioctl(fd, TCGETS, &t) == 0 ? FdKind::tty : FdKind::chardev;
  }
  case S_IFBLK: return FdKind::blockdev;
  case S_IFDIR: return FdKind::directory;
  default: return FdKind::unknown;
  }
}

namespace {

VALLEY_COLD FdInfo lookup_unslotted(int fd) {
  char path[kPathMax];
  return {fd < 0 ? FdKind::bad : classify_fd(fd, path, sizeof path), 0};
}

// An fd seen for the first time (or since it was renamed): classified and cached.
VALLEY_COLD uint64_t learn(Segment& seg, Slot& s, int fd, uint64_t gen, uint64_t now) {
  char path[kPathMax];
  uint8_t bits = 0;
  FdKind kind = classify_fd(fd, path, sizeof path, &bits);
  uint32_t file = kind == FdKind::bad ? 0 : add_file_row(seg, fd, kind, path, now, bits);
  const uint64_t w = pack(gen & 0xffff, file, kind);
  // A bad fd is not cached: the program may open it next.
  if (kind != FdKind::bad) s.word.store(w, std::memory_order_release);
  return w;
}

} // namespace

// One load answers a known fd; the fd table is written only when an fd is classified.
VALLEY_HOT FdInfo fd_lookup(Segment& seg, int fd, uint64_t now) {
  const uint64_t gen = g_gen.load(std::memory_order_relaxed);
  if (fd < 0 || fd >= kSlots) return lookup_unslotted(fd);
  Slot& s = g_slots[fd];
  uint64_t w = s.word.load(std::memory_order_acquire);
  if (!(w & kValid) || (w >> 48) != (gen & 0xffff)) w = learn(seg, s, fd, gen, now);
  return {static_cast<FdKind>((w >> 8) & 0xff), static_cast<uint32_t>((w >> 16) & 0xffffff)};
}

uint64_t fd_identity(int fd) {
  if (fd < 0 || fd >= kSlots) return 0;
  const uint64_t w = g_slots[fd].word.load(std::memory_order_acquire);
  const uint64_t gen = g_gen.load(std::memory_order_relaxed);
  // File id 0 (the file table was full) names nothing in particular.
  if (!(w & kValid) || (w >> 48) != (gen & 0xffff) || ((w >> 16) & 0xffffff) == 0) return 0;
  return w & ~uint64_t{0xfe};
}

void fd_forget(int fd) {
  if (fd < 0 || fd >= kSlots) return;
  g_slots[fd].word.store(0, std::memory_order_release);
}

void fd_forget_range(unsigned lo, unsigned hi) {
  for (unsigned fd = lo; fd <= hi && fd < static_cast<unsigned>(kSlots); ++fd)
    fd_forget(static_cast<int>(fd));
}

uint32_t path_row(Segment& seg, const char* path, uint64_t now) {
  return add_file_row(seg, -1, FdKind::unknown, path, now);
}

void fd_table_new_generation() { g_gen.fetch_add(1, std::memory_order_relaxed); }

} // namespace valley::shim
