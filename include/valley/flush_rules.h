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

/// Why the coalescer wrote its buffer out, as the shim records it on each flush event (format.h:
/// EventRecord::offset of a kEventFlush record). Values are stable.
enum class FlushReason : uint8_t {
  unknown = 0, ///< a trace from before reasons were recorded
  full = 1,    ///< the next write did not fit
  age = 2,     ///< the oldest byte reached the age bound (the flusher thread)
  read = 3,    ///< a read that could see the bytes or wait for someone who needs them
  other_fd = 4, ///< a write to another fd, or one that goes around the buffer
  fd_call = 5,  ///< a call on the buffered fd or its object: close, dup, fcntl, fsync, shutdown, …
  call = 6,     ///< another call that could observe the bytes: poll and waits, a shared
                ///< semaphore post, stat, lseek, mmap, a lock, …
  process = 7,  ///< fork, a signal to another process or thread
  end = 8,      ///< the end of the image or of the writing thread (exit, exec, a fatal signal)
  count
};

constexpr const char* flush_reason_name(FlushReason r) {
  switch (r) {
  case FlushReason::unknown: return "unknown";
  case FlushReason::full: return "buffer full";
  case FlushReason::age: return "age bound";
  case FlushReason::read: return "a read";
  case FlushReason::other_fd: return "a write to another fd";
  case FlushReason::fd_call: return "a call on the fd";
  case FlushReason::call: return "a poll, wait, lock or other call";
  case FlushReason::process: return "fork or a signal";
  case FlushReason::end: return "exit or thread end";
  case FlushReason::count: break;
  }
  return "?";
}

/// Why the coalescer (on) let a program's write make its own syscall, as the shim records it in
/// that call's EventRecord::reserved. Values are stable; 0 is also every call of a run without
/// the coalescer.
enum class Straight : uint8_t {
  none = 0,
  fd = 1,      ///< not open for writing (or F_GETFL failed)
  stdio = 2,   ///< fds 0-2 without `stdio = true`, or an fd given to fdopen
  fsize = 3,   ///< a file written under a finite RLIMIT_FSIZE
  flags = 4,   ///< O_NONBLOCK, O_SYNC, O_DSYNC or O_DIRECT, or shut down for writing
  kind = 5,    ///< an fd kind the settings' `kinds` leave out, or one never buffered
  path = 6,    ///< its path matches none of `paths`
  site = 7,    ///< its call site is not in `sites`
  lone = 8,    ///< request/response traffic: each buffer held one write, so the fd goes straight
  busy = 9,    ///< another fd's bytes in the way, or another thread flushing
  too_big = 10, ///< larger than the buffer
  count
};

constexpr const char* straight_name(Straight r) {
  switch (r) {
  case Straight::none: return "none";
  case Straight::fd: return "fd not open for writing";
  case Straight::stdio: return "stdout/stderr or an fdopen'ed fd";
  case Straight::fsize: return "a file size limit";
  case Straight::flags: return "non-blocking, O_SYNC or O_DIRECT";
  case Straight::kind: return "fd kind not in kinds";
  case Straight::path: return "path not in paths";
  case Straight::site: return "call site not in sites";
  case Straight::lone: return "request/response traffic";
  case Straight::busy: return "another fd's bytes in the way";
  case Straight::too_big: return "larger than the buffer";
  case Straight::count: break;
  }
  return "?";
}

/// The one setting that would let such calls be buffered, or "" when none would.
constexpr const char* straight_setting(Straight r) {
  switch (r) {
  case Straight::stdio: return "stdio = true";
  case Straight::kind: return "kinds";
  case Straight::path: return "paths";
  case Straight::site: return "sites";
  case Straight::too_big: return "buffer_size";
  default: return "";
  }
}

/// A flush event's `offset`: the call site of the buffer's latest write and the reason.
constexpr int64_t flush_note(uint32_t site, FlushReason r) {
  return static_cast<int64_t>(uint64_t{static_cast<uint8_t>(r)} << 32 | site);
}
constexpr uint32_t flush_note_site(int64_t note) { return static_cast<uint32_t>(note); }
constexpr FlushReason flush_note_reason(int64_t note) {
  const uint64_t r = (static_cast<uint64_t>(note) >> 32) & 0xff;
  return r < static_cast<uint64_t>(FlushReason::count) ? static_cast<FlushReason>(r)
                                                       : FlushReason::unknown;
}

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
