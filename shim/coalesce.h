// SPDX-License-Identifier: MIT
/// @file coalesce.h
/// @brief Transparent write-combining (opt-in). Small writes to an eligible fd go into one
/// process-wide buffer and reach the kernel later in one syscall, with the invariant that
/// anything that could notice sees the same bytes as without valley. One buffer at a time:
/// any intercepted call other than a further write to the same fd flushes it first, which
/// keeps the order of writes across fds, dup'ed fds (2>&1) and threads exactly as the program
/// made them. A flusher thread bounds the age of buffered bytes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <sys/types.h>
#include <sys/uio.h>

#include "valley/format.h"
#include "valley/settings.h"

namespace valley::shim {

struct CoalesceOptions {
  bool on;
  bool naive;            ///< tests only: the hazard tests' deliberately wrong buffer: one buffer
                         ///< per fd (up to 8), every writable fd, flushed only when full or in
                         ///< valley's destructor; no flush points, no age bound, no errors
  uint32_t size;         ///< buffer bytes
  uint32_t max_age_us;   ///< oldest buffered byte, at most
  uint32_t kinds;        ///< bit per FdKind value that may be coalesced
  bool stdio;            ///< fds 0-2 may be buffered too (off: stdio writes them unseen)
  /// ':'-separated fnmatch globs, each at most settings::get(Id::coalesce_paths).max bytes;
  /// empty: any path of an eligible kind
  char paths[settings::kListBytes];
  char sites[settings::kListBytes]; ///< ','-separated "module+0xOFFSET" call sites; empty: any site
};

extern CoalesceOptions g_coalesce;
/// Set while bytes are buffered; the cheap test every hook makes before flushing.
extern std::atomic<bool> g_pending;

/// Reads VALLEY_COALESCE*, or the [coalesce] table of $VALLEY_CONFIG. On an error prints one
/// `valley:` line and leaves coalescing off (tracing goes on).
void coalesce_configure(char** env);

/// Whether writes to fd may be buffered: decided once per fd when it is classified, from its
/// kind, open flags and path.
bool coalesce_eligible(int fd, FdKind kind, const char* path);

/// Flushes the buffer unless another thread is flushing it already (never waits for one).
/// `nowait`: writes only what the fd takes without blocking (see flush_before_input).
void coalesce_flush(bool nowait);

/// The program called something that could observe buffered bytes or depends on them having
/// been written (close, dup2, lseek, exec, another fd's write, ...): flush them.
inline void flush_before() {
  if (g_pending.load(std::memory_order_acquire) && !g_coalesce.naive) coalesce_flush(false);
}

/// The program is about to wait for input (read, recv, poll, select, epoll, wait for a child):
/// flush what the fd takes without blocking. Blocking here could wait for the very thread that
/// drains the fd (a reader thread whose first read meets the main thread's bytes); what does
/// not fit stays buffered for the flusher thread, where the program's own write would have
/// waited without valley.
inline void flush_before_input() {
  if (g_pending.load(std::memory_order_acquire) && !g_coalesce.naive) coalesce_flush(true);
}

/// Offers a write to the buffer. Returns true when handled: *result is what the program gets
/// (the byte count, or -1 with errno for an error left over from an earlier flush). Returns
/// false when the caller must make the real call (after any needed flush has happened).
/// `counted_by_kernel`: the op is one the kernel's syscw counts (write, writev; not send).
bool coalesce_write(int fd, const iovec* iov, int iovcnt, uint64_t ra, uint64_t now,
                    bool counted_by_kernel, ssize_t* result);

/// The fd number names another file now: forget how writes to it behaved.
void coalesce_forget_fd(int fd);

/// An error left by a failed flush on fd, reported once: returns 0 if none.
int take_sticky_error(int fd);

/// Starts the flusher thread and the fatal-signal handlers (when coalescing is on).
void coalesce_start();

/// valley's own fatal-signal handler is installed for sig (the program sees SIG_DFL there).
void note_own_handler(int sig, bool ours);
bool own_handler(int sig);
/// valley's handler, for re-installing it when the program sets SIG_DFL.
void install_own_handler(int sig);

/// Process events.
/// Last flush; pass-through from now on. `destructor`: called from valley's destructor (the
/// only place the naive test mode flushes).
void coalesce_final(bool destructor);
void coalesce_fork_prepare(); ///< flush and hold the buffer across fork
void coalesce_fork_parent();
void coalesce_fork_child();
void coalesce_untraced_child(); ///< in a child of _Fork: drop the copy, write straight through

/// fdopen'ed fds are written by stdio too, so never buffered; a new file on the fd clears it.
void note_stdio_fd(int fd, bool on);
bool stdio_fd(int fd);

/// True on valley's flusher thread.
bool on_flusher_thread();

/// What the coalescer absorbed, for coverage: its flushes are counted like any write (site
/// kSiteFlush), these calls made no syscall. Only write/writev (the calls syscw counts).
struct CoalesceStats {
  uint64_t absorbed_calls, absorbed_bytes;
};
CoalesceStats coalesce_stats();

} // namespace valley::shim
