// SPDX-License-Identifier: MIT
/// @file fd_events.cpp
/// @brief After calls that create, replace or close fds: what was known about the fd number no
/// longer holds.
#include "coalesce/coalesce.h"
#include "fd_table.h"
#include "recorder.h"

namespace valley::shim {

namespace {
// The fd number now names another file (or none): what was known about it no longer holds.
void fd_renamed(int fd) {
  fd_forget(fd);
  note_stdio_fd(fd, false);
  coalesce_forget_fd(fd);
}
} // namespace

int fd_created(int fd) {
  if (fd >= 0) fd_renamed(fd);
  return fd;
}

int fd_pair_created(int r, const int* fds) {
  if (r == 0) {
    fd_renamed(fds[0]);
    fd_renamed(fds[1]);
  }
  return r;
}

int fd_closed(int fd, int r) {
  // Linux releases the fd even when close fails with EINTR or EIO.
  fd_renamed(fd);
  return r;
}

void fd_flags_changed(int fd) { fd_forget(fd); }

void fd_given_to_stdio(int fd) {
  note_stdio_fd(fd, true);
  fd_forget(fd);
}

int fd_range_closed(unsigned lo, unsigned hi, int flags, int r) {
  if (r == 0 && !(flags & 4 /* CLOSE_RANGE_CLOEXEC: nothing is closed */))
    fd_forget_range(lo, hi);
  return r;
}

} // namespace valley::shim
