// SPDX-License-Identifier: MIT
/// @file flush_rules.h
/// @brief When the coalescer writes out its buffer before a call: one function that the shim's
/// coalescer and the advisor's replay both follow, so the syscalls `valley report` predicts for
/// a config are the ones `valley run --config` makes (issue 12).
///
/// The coalescer holds one buffer per process, for one fd at a time. Besides the calls here,
/// it also flushes when the buffer is full, when its oldest byte reaches the age bound, and at
/// calls the trace does not record (polls and waits, process-shared semaphore posts, signals,
/// fork, exec, exit, dup, fcntl, …): the replay cannot see those.
#pragma once

#include "valley/format.h"

#include <string_view>

namespace valley {

/// Why buffered bytes went out before a call. Values are stable (reports may name them).
enum class FlushCause : uint8_t {
  none = 0,         ///< the call leaves the buffer alone
  other_fd = 1,     ///< a write to another fd: the buffer holds one fd's bytes at a time
  read = 2,         ///< a read: it may wait for a peer that needs the bytes, or read them back
  fd_call = 3,      ///< a sync, a copy between fds, an open, a close or an unlink
};

/// Whether a read of an fd of kind `kind` could neither see bytes buffered for another object
/// nor wait for someone who needs them (B-19): a regular file, or a memory device
/// (`mem_device`: /dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom, the character
/// devices of major 1 that never block). A pipe, socket, tty or any other device may be read by
/// waiting for a peer that is waiting for the buffered bytes.
constexpr bool read_is_private(FdKind kind, bool mem_device) {
  return kind == FdKind::regular || (kind == FdKind::chardev && mem_device);
}

/// The memory devices by path, for readers of a trace (which keeps paths, not device numbers).
constexpr bool mem_device_path(std::string_view p) {
  return p == "/dev/null" || p == "/dev/zero" || p == "/dev/full" || p == "/dev/random" ||
         p == "/dev/urandom";
}

/// Whether a recorded call (`op` on an fd of kind `kind`) makes the coalescer write out a
/// non-empty buffer first. `same_object`: the call's fd names the file, pipe or socket the
/// buffer holds bytes for (the shim compares device and inode; the replay, fd numbers).
constexpr FlushCause flush_before_call(Op op, FdKind kind, bool same_object,
                                       bool mem_device = false) {
  if (op_is_output(op)) return same_object ? FlushCause::none : FlushCause::other_fd;
  if (op_moves_data(op))
    return !same_object && read_is_private(kind, mem_device) ? FlushCause::none : FlushCause::read;
  return FlushCause::fd_call;
}

/// A semaphore post wakes a waiter. One that is not process-shared wakes only threads of this
/// process, whose own calls go through the coalescer and flush first wherever they could see
/// the bytes (B-20), so it is no flush point; a process-shared one may wake another process.
constexpr bool sem_post_flushes(bool process_shared) { return process_shared; }

constexpr const char* flush_cause_name(FlushCause c) {
  switch (c) {
  case FlushCause::none: return "none";
  case FlushCause::other_fd: return "a write to another fd";
  case FlushCause::read: return "a read";
  case FlushCause::fd_call: return "a sync, copy, open, close or unlink";
  }
  return "?";
}

} // namespace valley
