// SPDX-License-Identifier: MIT
/// @file flush_rules.h
/// @brief When the coalescer writes out its buffer before a call: one function that the shim's
/// coalescer and the advisor's replay both follow, so the syscalls `valley report` predicts for
/// a config are the ones `valley run --config` makes (issue 12).
///
/// The coalescer holds one buffer per process, for one fd at a time. Besides the calls here,
/// it also flushes when the buffer is full, when its oldest byte reaches the age bound, and at
/// calls the trace does not record (polls and waits, semaphore posts, signals, fork, exec,
/// exit, dup, fcntl, …): the replay cannot see those, and the report says so.
#pragma once

#include "valley/format.h"

namespace valley {

/// Why buffered bytes went out before a call. Values are stable (reports may name them).
enum class FlushCause : uint8_t {
  none = 0,         ///< the call leaves the buffer alone
  other_fd = 1,     ///< a write to another fd: the buffer holds one fd's bytes at a time
  read = 2,         ///< a read: it may wait for a peer that needs the bytes, or read them back
  fd_call = 3,      ///< a sync, a copy between fds, an open, a close or an unlink
};

/// Whether a recorded call (`op` on an fd of kind `kind`) makes the coalescer write out a
/// non-empty buffer first. `same_fd`: the call is on the fd the buffer holds bytes for.
constexpr FlushCause flush_before_call(Op op, FdKind kind, bool same_fd) {
  (void)kind;
  if (op_is_output(op)) return same_fd ? FlushCause::none : FlushCause::other_fd;
  if (op_moves_data(op)) return FlushCause::read;
  return FlushCause::fd_call;
}

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
