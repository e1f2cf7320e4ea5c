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

/// Flushes the buffer (B-18.3). `wait`: the caller is about to act on the buffered fd itself
/// (close it, shut it down, change its mode, end the image), where the program's own write
/// would have waited for the reader: waits for the fd and for a flush another thread is making.
/// Otherwise writes only what the fd takes without blocking and leaves the rest to the flusher
/// thread: a flush point that is no wait of this thread on that fd (a semaphore post, a signal,
/// a wait for input, another fd) may run while the program holds a lock the reader needs.
void coalesce_flush(bool wait);

/// A call that could observe buffered bytes or depends on them having been written (open,
/// stat, kill, sem_post, read, poll, wait for a child, fork, ...): they go out as far as they
/// do without blocking. Blocking here could wait for the very thread that drains the fd (a
/// reader thread whose first read meets the main thread's bytes, a consumer that needs a lock
/// the program holds across sem_post); what does not fit stays buffered for the flusher
/// thread, where the program's own write would have waited without valley.
inline void flush_before() {
  if (g_pending.load(std::memory_order_acquire) && !g_coalesce.naive) coalesce_flush(false);
}

/// A call on fd that needs the buffered bytes out of that very fd number first (close, fsync,
/// dup2 onto it): waits if fd is the buffered fd, otherwise as flush_before().
void coalesce_flush_for_fd(int fd);
inline void flush_before_fd(int fd) {
  if (g_pending.load(std::memory_order_acquire) && !g_coalesce.naive) coalesce_flush_for_fd(fd);
}

/// close_range/closefrom: waits if the buffered fd is in [lo, hi].
void coalesce_flush_for_range(unsigned lo, unsigned hi);
inline void flush_before_range(unsigned lo, unsigned hi) {
  if (g_pending.load(std::memory_order_acquire) && !g_coalesce.naive)
    coalesce_flush_for_range(lo, hi);
}

/// A call that acts on the file, pipe or socket fd names, through whichever fd (shutdown,
/// F_SETFL, FIONBIO, splice into it): waits if fd names the buffered fd's object.
void coalesce_flush_for_object(int fd);
inline void flush_before_object(int fd) {
  if (g_pending.load(std::memory_order_acquire) && !g_coalesce.naive) coalesce_flush_for_object(fd);
}

/// Before a write to fd that does not go through the buffer (sendmsg, send with flags, a
/// write to an fd that is not buffered): another fd's bytes go out as far as they do without
/// blocking; bytes buffered for the same pipe or socket must go first, so the write waits for
/// them, or, when it would not block (`nonblocking`: O_NONBLOCK or MSG_DONTWAIT), fails with
/// EAGAIN as the kernel would with those bytes in the way. Returns 0 or EAGAIN.
/// `kind`, when known, saves the check whether fd names the buffered object.
int coalesce_before_write(int fd, bool nonblocking, FdKind kind = FdKind::unknown);
inline int flush_before_write(int fd, bool nonblocking = false) {
  if (!g_pending.load(std::memory_order_acquire) || g_coalesce.naive) return 0;
  return coalesce_before_write(fd, nonblocking);
}

/// The program is about to end its image by its own doing (exec, raise or kill of itself with
/// a signal that ends it; exit and _exit go through coalesce_final). Bytes this thread wrote
/// are waited for, as its own write would have waited; bytes only other threads wrote get at
/// most the age bound, since the end would have cut those threads' writes short.
void coalesce_flush_ending();

/// Before a signal is sent (kill, raise, tgkill, pthread_kill, ...; B-18.5): one this process
/// sends itself and that ends it (SIGKILL, or a default action that terminates) is an end of
/// the image by the program's own doing; any other wakes someone who may read what was
/// written, and flushes without blocking.
void coalesce_before_signal(bool to_self, int sig);
inline void flush_before_signal(bool to_self, int sig) {
  if (g_pending.load(std::memory_order_acquire) && !g_coalesce.naive)
    coalesce_before_signal(to_self, sig);
}

/// F_SETFL or FIONBIO succeeded on some fd: the blocking mode of any open file description
/// may have changed, so each fd's status flags are read again before its next buffer.
void coalesce_flags_changed();

/// shutdown(SHUT_WR) on fd: writes to it fail from now on, so they are never buffered again.
void coalesce_shut_for_writing(int fd);

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
/// Last flush; pass-through from now on (waits as coalesce_flush_ending). `destructor`: called
/// from valley's destructor (the only place the naive test mode flushes).
void coalesce_final(bool destructor);
/// A thread that wrote into the current buffer is ending: its bytes go out first (waiting).
void coalesce_thread_exiting();
void coalesce_fork_prepare(); ///< flush without blocking, hold the buffer across fork if free
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
