// SPDX-License-Identifier: MIT
/// @file flush_points.cpp
/// @brief Calls that could observe buffered bytes flush them first: how far each one waits.
#include "buffer.h"

#include "recorder.h"
#include "sys.h"
#include "valley/flush_rules.h"

#include <atomic>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace valley::shim {
namespace coalesce {

int before_write(int fd, bool nonblocking, FdKind kind) {
  if (held_by_me()) return 0; // a signal handler inside the coalescer: straight through (B-16)
  const FlushBecause why(FlushReason::other_fd);
  flush_any(false);
  if (!g_pending.load(std::memory_order_acquire)) return 0;
  // Bytes stay only on a full pipe or socket. This write may pass them on another object; on
  // the same one it queues behind them.
  const int b = buffered_fd();
  if (b < 0 || fd < 0 || (kind != FdKind::unknown && kind != g_buf.kind) ||
      (b != fd && !same_object(b, fd)))
    return 0;
  const int fl = static_cast<int>(::syscall(SYS_fcntl, fd, F_GETFL));
  if (nonblocking || (fl >= 0 && (fl & O_NONBLOCK))) return EAGAIN;
  flush_any(true);
  return 0;
}

} // namespace coalesce

using namespace coalesce;

void coalesce_flush(bool wait) {
  const KeepErrno keep;
  const Frame frame;
  if (!frame.nested()) flush_any(wait);
}

void coalesce_flush_for_fd(int fd) {
  const FlushBecause why(FlushReason::fd_call);
  coalesce_flush(fd >= 0 && buffered_fd() == fd);
}

namespace {
// B-19: per fd, what kind of object a read of it reads, keyed by the fd table's identity of
// the fd (bits 1-2: 1 another kind, 2 a regular file, 3 a memory device), so that a loop
// reading one fd (dd's /dev/zero) makes no fstat per read.
constexpr int kReadSlots = 1024;
constinit std::atomic<uint64_t> g_read_class[kReadSlots]{};
enum ReadClass : uint64_t { kOther = 1, kFile = 2, kMem = 3 };

uint64_t read_class(const struct stat& st) {
  if (S_ISREG(st.st_mode)) return kFile;
  // Major 1: null 3, zero 5, full 7, random 8, urandom 9 (kmsg, 11, may block).
  const unsigned mi = minor(st.st_rdev);
  if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
      (mi == 3 || mi == 5 || mi == 7 || mi == 8 || mi == 9))
    return kMem;
  return kOther;
}
} // namespace

// B-19: a read of another fd number than the buffered one flushes unless it reads a regular
// file that is not the buffered file, or a memory device (flush_rules.h). A buffer for a pipe
// or socket is never the same object as a file; one for a file kept its device and inode when
// it started. At most one fstat per read, none for an fd read before.
void coalesce_flush_for_read(int fd) {
  const KeepErrno keep;
  const int b = buffered_fd();
  if (fd >= 0 && b >= 0 && fd != b) {
    const uint64_t id = fd < kReadSlots ? fd_identity(fd) : 0;
    const uint64_t cached = id ? g_read_class[fd].load(std::memory_order_acquire) : 0;
    uint64_t cls = (cached & ~uint64_t{6}) == id && id ? (cached >> 1) & 3 : 0;
    struct stat st {};
    bool have_stat = false;
    if (cls == 0 && sys::fstat(fd, &st) == 0) {
      have_stat = true;
      cls = read_class(st);
      if (id) g_read_class[fd].store(id | cls << 1, std::memory_order_release);
    }
    if (cls == kFile || cls == kMem) {
      bool same = false;
      if (cls == kFile && g_buf.kind == FdKind::regular) {
        const uint64_t dev = std::atomic_ref(g_buf.dev).load(std::memory_order_relaxed);
        const uint64_t ino = std::atomic_ref(g_buf.ino).load(std::memory_order_relaxed);
        if (!have_stat) have_stat = sys::fstat(fd, &st) == 0;
        // Unknown identity (0, or no fstat) counts as the same object: flush.
        same = ino == 0 || !have_stat || (st.st_dev == dev && st.st_ino == ino);
      }
      const FdKind kind = cls == kFile ? FdKind::regular : FdKind::chardev;
      if (flush_before_call(Op::read, kind, same, cls == kMem) == FlushCause::none) return;
    }
  }
  const FlushBecause why(FlushReason::read);
  coalesce_flush(false);
}

void coalesce_flush_for_range(unsigned lo, unsigned hi) {
  const FlushBecause why(FlushReason::fd_call);
  const int b = buffered_fd();
  coalesce_flush(b >= 0 && static_cast<unsigned>(b) >= lo && static_cast<unsigned>(b) <= hi);
}

void coalesce_flush_for_object(int fd) {
  const KeepErrno keep;
  const FlushBecause why(FlushReason::fd_call);
  const int b = buffered_fd();
  coalesce_flush(fd >= 0 && b >= 0 && (b == fd || same_object(b, fd)));
}

int coalesce_before_write(int fd, bool nonblocking) {
  const KeepErrno keep;
  const Frame frame;
  return frame.nested() ? 0 : before_write(fd, nonblocking, FdKind::unknown);
}

} // namespace valley::shim
