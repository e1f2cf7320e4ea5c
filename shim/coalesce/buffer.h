// SPDX-License-Identifier: MIT
/// @file buffer.h
/// @brief Inside the coalescer: the one buffer, its lock, and how it is flushed. Shared by the
/// coalescer's files only.
#pragma once

#include "coalesce.h"
#include "valley/flush_rules.h"

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace valley::shim::coalesce {

inline constexpr size_t kMaxBuffer = 1u << 20;
inline constexpr int kFdSlots = 65536; // per-fd state is kept for fds below this
inline constexpr uint32_t kSignalDue = 1u << 16; // the failed flush ran on the flusher thread:
                                                 // the SIGPIPE the program would have had is owed

// The one buffer. Guarded by the lock; g_pending mirrors "len > 0" for the lock-free check.
struct Buffer {
  int fd = -1;
  FdKind kind = FdKind::unknown;
  size_t len = 0;
  uint32_t writes = 0;   // program calls in it
  uint64_t first_ns = 0; // when the oldest buffered byte arrived
  uint64_t gen = 1;      // counts buffers: a new one starts each time the buffer empties
  uint64_t ra = 0;       // call site of the latest buffered write
  uint32_t site = 0;     // its call-site id, for the flush events' notes
  // The buffered file's identity, for reads of other files (B-19): set when a buffer for a
  // regular file starts, read without the lock (a read racing a new buffer is unordered anyway).
  uint64_t dev = 0, ino = 0;
};
extern Buffer g_buf;
extern char g_data[kMaxBuffer];
extern std::atomic<bool> g_final;    ///< after the final flush: pass-through
extern std::atomic<bool> g_flushing; ///< the holder is inside a flush that may block
extern std::atomic<uint32_t> g_sticky[kFdSlots];

// Per thread.
extern thread_local bool t_flusher;   ///< valley's flusher thread
extern thread_local bool t_in_flush;  ///< inside flush_locked: a handler must not write these bytes again
extern thread_local uint64_t t_wrote_gen; ///< g_buf.gen of the last buffer this thread wrote into
/// Why this thread's next flush happens (recorded with it): set by the flush point.
extern thread_local FlushReason t_flush_reason;
/// Why this thread's latest offered write went around the buffer (coalesce_last_straight).
extern thread_local Straight t_straight;

/// Sets the reason for the flushes inside a flush point, and restores the outer one after.
class FlushBecause {
public:
  explicit FlushBecause(FlushReason r) : prev_(t_flush_reason) { t_flush_reason = r; }
  ~FlushBecause() { t_flush_reason = prev_; }
  FlushBecause(const FlushBecause&) = delete;
  FlushBecause& operator=(const FlushBecause&) = delete;

private:
  FlushReason prev_;
};

/// This thread's tid, for the lock word.
uint32_t my_tid();

// The lock is a word holding its holder's tid, so that a thread can tell that it holds it
// itself (a signal handler inside the coalescer, or a frame left by longjmp: then
// coalesce_thread_recovered gives it back). Waiting is a futex wait.
bool try_lock();
void lock();
void unlock();
/// True when this thread holds the buffer.
bool held_by_me();

/// How a flush may wait for the fd. Bytes are never dropped for EAGAIN: the program was told
/// they were written, and what is not written stays buffered, in order.
enum class Flush {
  nowait, // only what the fd takes without blocking
  wait,   // all of it, waiting for room as the program's write would have (only blocking fds
          // are buffered); if the fd turned non-blocking where valley did not see it (another
          // process sharing the description, a raw syscall), by polling for room (B-18.2)
  write,  // as wait, for the program's own write that needs room in the buffer; but an fd that
          // turned non-blocking stops the flush: the fd is no longer buffered and that write,
          // queued behind the rest, gets EAGAIN as the kernel would give it
};

/// Writes the buffer out. Caller holds the buffer.
void flush_locked(Flush how = Flush::wait);

/// Flushes under the lock: `wait` takes the lock waiting and flushes everything; otherwise
/// never waits for a blocking flush of another thread (B-15) and writes what the fd takes.
/// Caller is inside a coalescer frame and does not hold the buffer.
void flush_any(bool wait);

/// The ending flushes (exec, exit, fatal signals): bytes this thread wrote are waited for, others
/// get until `deadline` (monotonic ns).
void flush_for_end(bool wait, uint64_t deadline);
bool buffer_mine();
uint64_t age_deadline();

/// Whether two fds name the same file, pipe or socket (an fstat each: only on a rare path).
bool same_object(int a, int b);
inline int buffered_fd() { return std::atomic_ref(g_buf.fd).load(std::memory_order_relaxed); }

/// Before a write that goes around the buffer: 0, or EAGAIN where bytes buffered for the same
/// object are in its way and it must not wait. Caller is inside a coalescer frame.
int before_write(int fd, bool nonblocking, FdKind kind);

void raise_here(int sig);
void start_flusher();
void reset_in_child();
/// Notes that fd's open file description took `writes` program calls in the buffer just flushed
/// (policy.cpp: request/response fds are then written straight through).
void note_flushed_writes(int fd, uint32_t writes);
void note_absorbed(uint64_t bytes);
/// O_NONBLOCK and friends as last seen (policy.cpp).
void note_flags(int fd, bool unfit);
/// Whether this write may go into the buffer: its fd, site and the fd's state allow it.
Straight may_buffer(const OfferedWrite& w);
/// A fork child: its FileRow and site ids are new, the verdicts cached for them are not its.
void new_fork_generation();

/// The coalescer's own syscalls (F_GETFL, poll, a flush that fails) must not show in the errno
/// of the program's call that led to them (I-02). Errors meant for the program are set after.
struct KeepErrno {
  int saved = errno;
  ~KeepErrno() { errno = saved; }
};

/// A signal handler or the flusher inside this thread's own coalescer frame marks the thread
/// busy; a nested one (a handler that landed inside valley) must not take the lock.
class Frame {
public:
  Frame();
  ~Frame();
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;
  bool nested() const { return nested_; }

private:
  bool nested_;
};

} // namespace valley::shim::coalesce
