// SPDX-License-Identifier: MIT
/// @file coalesce.h
/// @brief Transparent write-combining (opt-in), a layer above the recorder. Small writes to an
/// eligible fd go into one process-wide buffer and reach the kernel later in one syscall, with
/// the invariant that anything that could notice sees the same bytes as without valley. One
/// buffer at a time: any intercepted call other than a further write to the same fd flushes it
/// first, which keeps the order of writes across fds, dup'ed fds (2>&1) and threads exactly as
/// the program made them. A flusher thread bounds the age of buffered bytes.
///
/// The recorder offers it writes (coalesce_offer) with what it knows of the fd and the call
/// site; the coalescer asks back only for a FileRow's path and a site's name (recorder.h), and
/// tells the recorder of the writes it makes (record_flush). Flush points are hooks of its own.
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

/// The coalescing settings' defaults, from the settings table.
void coalesce_defaults(CoalesceOptions* o);
/// Stores a checked flag or count of a coalescing setting (others are ignored).
void coalesce_set(CoalesceOptions* o, settings::Id id, uint64_t v);
/// Empties a list setting (kinds, paths, sites) before its entries are added.
void coalesce_list_clear(CoalesceOptions* o, settings::Id id);
/// Checks one entry of kinds, paths or sites and adds it; the same check for VALLEY_* and
/// valley.toml. Returns what is wrong with it (Problem::ok: added).
settings::Problem coalesce_list_add(CoalesceOptions* o, const settings::Setting& s, const char* e,
                                    size_t n);
/// Whether a setting is one of the coalescer's.
bool coalesce_setting(settings::Id id);

/// A write the recorder offers: the fd as the recorder knows it and the call's site.
struct OfferedWrite {
  int fd;
  FdKind kind;
  uint32_t file; ///< FileRow id: a new one whenever the fd names something new (0: none)
  uint32_t site; ///< call-site id
  uint64_t ra;   ///< return address into the caller
  const iovec* iov;
  int iovcnt;
  bool kernel_counted; ///< the kernel's syscw counts this op (write, writev; not send)
};

enum class Offer {
  taken,   ///< in the buffer: *result is the byte count, *gen the buffer it joined
  around,  ///< the caller makes the real call (any flush it needed has happened)
  refused, ///< *result is -1 with errno: an earlier flush's error, or EAGAIN behind the buffer
};

/// Called by the recorder inside its frame for the thread (not for a nested call). Keeps the
/// program's errno unless refused.
Offer coalesce_offer(const OfferedWrite& w, ssize_t* result, uint64_t* gen);
/// The write loop the coalescer exists for: the call site that wrote last into the buffer of
/// generation `gen` writes `total` more bytes to the same fd. Nothing the full offer decided
/// can have changed since (a call that changes the fd, a flush or a failure ends the
/// generation), so the bytes join the buffer without a new verdict. False: the buffer is
/// another, full, held by a signal handler's thread frame or owes an error; make the full offer.
/// Called by the recorder inside its frame for the thread; errno is untouched.
bool coalesce_append_again(int fd, uint64_t ra, uint32_t site, uint64_t gen, const iovec* iov,
                           int iovcnt, uint64_t total, bool kernel_counted);
/// Why this thread's latest coalesce_offer went around (a Straight of flush_rules.h; 0: it did
/// not, or nothing is known).
uint8_t coalesce_last_straight();

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
  if (g_pending.load(std::memory_order_acquire)) coalesce_flush(false);
}

/// A read of fd: flushes as flush_before() unless the read can neither see the buffered bytes
/// nor wait for someone who needs them (include/valley/flush_rules.h: a regular file or memory
/// device that is not the buffered object; B-19).
void coalesce_flush_for_read(int fd);
inline void flush_before_read(int fd) {
  if (g_pending.load(std::memory_order_acquire)) coalesce_flush_for_read(fd);
}

/// A call on fd that needs the buffered bytes out of that very fd number first (close, fsync,
/// dup2 onto it): waits if fd is the buffered fd, otherwise as flush_before().
void coalesce_flush_for_fd(int fd);
inline void flush_before_fd(int fd) {
  if (g_pending.load(std::memory_order_acquire)) coalesce_flush_for_fd(fd);
}

/// close_range/closefrom: waits if the buffered fd is in [lo, hi].
void coalesce_flush_for_range(unsigned lo, unsigned hi);
inline void flush_before_range(unsigned lo, unsigned hi) {
  if (g_pending.load(std::memory_order_acquire)) coalesce_flush_for_range(lo, hi);
}

/// A call that acts on the file, pipe or socket fd names, through whichever fd (shutdown,
/// F_SETFL, FIONBIO, splice into it): waits if fd names the buffered fd's object.
void coalesce_flush_for_object(int fd);
inline void flush_before_object(int fd) {
  if (g_pending.load(std::memory_order_acquire)) coalesce_flush_for_object(fd);
}

/// Before a write to fd that does not go through the buffer (sendmsg, send with flags, a
/// write to an fd that is not buffered): another fd's bytes go out as far as they do without
/// blocking; bytes buffered for the same pipe or socket must go first, so the write waits for
/// them, or, when it would not block (`nonblocking`: O_NONBLOCK or MSG_DONTWAIT), fails with
/// EAGAIN as the kernel would with those bytes in the way. Returns 0 or EAGAIN.
int coalesce_before_write(int fd, bool nonblocking);
inline int flush_before_write(int fd, bool nonblocking = false) {
  if (!g_pending.load(std::memory_order_acquire)) return 0;
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
  if (g_pending.load(std::memory_order_acquire)) coalesce_before_signal(to_self, sig);
}

/// F_SETFL or FIONBIO succeeded on some fd: the blocking mode of any open file description
/// may have changed, so each fd's status flags are read again before its next buffer.
void coalesce_flags_changed();

/// shutdown(SHUT_WR) on fd: writes to it fail from now on, so they are never buffered again.
void coalesce_shut_for_writing(int fd);

/// The fd number names another file now: forget how writes to it behaved.
void coalesce_forget_fd(int fd);

/// An error left by a failed flush on fd, reported once: returns 0 if none.
int take_sticky_error(int fd);

/// Starts the flusher thread and the fatal-signal handlers (when coalescing is on).
void coalesce_start();

/// valley's own fatal-signal handler is installed for sig (the program sees SIG_DFL there).
void note_own_handler(int sig, bool ours);
bool own_handler(int sig);

/// Process events.
/// Last flush; pass-through from now on (waits as coalesce_flush_ending).
void coalesce_final();
/// A thread that wrote into the current buffer is ending: its bytes go out first (waiting).
void coalesce_thread_exiting();
/// The thread `tid` was found to have left a coalescer frame by longjmp: what it held is free.
void coalesce_thread_recovered(uint32_t tid);
void coalesce_fork_prepare(); ///< flush without blocking, hold the buffer across fork if free
void coalesce_fork_parent();
void coalesce_fork_child();
void coalesce_untraced_child(); ///< in a child of _Fork: drop the copy, write straight through

/// fdopen'ed fds are written by stdio too, so never buffered; a new file on the fd clears it.
void note_stdio_fd(int fd, bool on);

/// What the coalescer absorbed, for coverage: its flushes are counted like any write (site
/// kSiteFlush), these calls made no syscall. Only write/writev (the calls syscw counts).
struct CoalesceStats {
  uint64_t absorbed_calls, absorbed_bytes;
};
CoalesceStats coalesce_stats();

} // namespace valley::shim
