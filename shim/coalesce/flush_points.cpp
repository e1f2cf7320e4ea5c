// SPDX-License-Identifier: MIT
/// @file flush_points.cpp
/// @brief Calls that could observe buffered bytes flush them first: how far each one waits.
#include "buffer.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace valley::shim {
namespace coalesce {

int before_write(int fd, bool nonblocking, FdKind kind) {
  if (held_by_me()) return 0; // a signal handler inside the coalescer: straight through (B-16)
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

void coalesce_flush_for_fd(int fd) { coalesce_flush(fd >= 0 && buffered_fd() == fd); }

void coalesce_flush_for_range(unsigned lo, unsigned hi) {
  const int b = buffered_fd();
  coalesce_flush(b >= 0 && static_cast<unsigned>(b) >= lo && static_cast<unsigned>(b) <= hi);
}

void coalesce_flush_for_object(int fd) {
  const KeepErrno keep;
  const int b = buffered_fd();
  coalesce_flush(fd >= 0 && b >= 0 && (b == fd || same_object(b, fd)));
}

int coalesce_before_write(int fd, bool nonblocking) {
  const KeepErrno keep;
  const Frame frame;
  return frame.nested() ? 0 : before_write(fd, nonblocking, FdKind::unknown);
}

} // namespace valley::shim
