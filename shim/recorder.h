// SPDX-License-Identifier: MIT
/// @file recorder.h
/// @brief The only thing hooks call to record. Each function takes what the real call did,
/// records it, and hands back the result with errno exactly as the real call left it.
#pragma once

#include "valley/format.h"

#include <cstddef>
#include <cstdint>
#include <sys/types.h>
#include <sys/uio.h>

namespace valley::shim {

/// A completed call. `transferred` is the byte count actually moved (for *mmsg, the sum of
/// msg_len); `offset` is -1 for non-positional ops. `flags` are EventBits to add.
ssize_t io_done(Op op, int fd, uint64_t requested, uint64_t transferred, int64_t offset,
                ssize_t result, uint64_t t0, uint64_t ra, uint8_t flags = 0);

inline ssize_t io_done(Op op, int fd, uint64_t requested, int64_t offset, ssize_t result,
                       uint64_t t0, uint64_t ra, uint8_t flags = 0) {
  return io_done(op, fd, requested, result > 0 ? static_cast<uint64_t>(result) : 0, offset,
                 result, t0, ra, flags);
}

/// A completed call on a path rather than an fd (unlink): recorded with fd -1 and, in the
/// event's offset, the id of a FileRow holding the path.
int path_done(Op op, const char* path, int result, uint64_t t0, uint64_t ra);

/// A write the coalescer may take (write, writev, send without flags; coalescing on): the
/// recorder looks up the fd and the call site once and offers it. True when it was taken or
/// refused: then it is recorded, *result is what the program gets, errno set for -1. False:
/// the caller makes the real call and records it with io_done.
bool offer_output(Op op, int fd, const iovec* iov, int iovcnt, uint64_t ra, uint64_t t0,
                  ssize_t* result);

/// Records a write valley made to flush `requested` buffered bytes (site kSiteFlush).
void record_flush(Op op, int fd, uint64_t requested, uint64_t written, int err, uint64_t t0, uint64_t t1,
                  int64_t note);

/// For the coalescer's verdicts: the path of FileRow `file` (false: none), and a call site as
/// "module+0xOFFSET" (false: no module holds `ra`).
bool file_path(uint32_t file, char* out, size_t cap);
/// What the fd table knows of fd without classifying it: a word that changes whenever fd names
/// something else (a new FileRow, a fork), with bits 1-7 zero; 0 when fd is not known yet.
uint64_t fd_identity(int fd);
bool site_name(uint64_t ra, char* out, size_t cap);

/// fd bookkeeping after calls that create, replace or close fds. Preserve errno.
int fd_created(int fd);           ///< open/socket/accept/dup/…: fd is new
int fd_pair_created(int r, const int* fds); ///< pipe/socketpair: fds[0], fds[1] are new
void fd_closing(int fd);          ///< before close: learn what fd is while it still is
int fd_closed(int fd, int r);     ///< close: fd is gone
int fd_range_closed(unsigned lo, unsigned hi, int flags, int r);
void fd_flags_changed(int fd);    ///< F_SETFL: reclassify (buffering eligibility may change)
void fd_given_to_stdio(int fd);   ///< fdopen: stdio writes it too, so it is never buffered

/// The image is about to end (exit paths, valley's destructor) or be replaced (exec): drain
/// and record coverage.
void image_ending();
/// Marks the trace as ended by exec; exec_failed undoes it when exec returns.
void exec_starting();
void exec_failed();

/// A thread valley starts for itself (the coalescer's flusher) calls this first: its end is
/// then counted like a program thread's (B-18.6) even if it never makes a recorded call, so its
/// own reads of /proc, which the coverage takes off the kernel's figures, are in them.
void own_thread_started();

/// Environment for exec: `env` with LD_PRELOAD and VALLEY_* put back if the program removed
/// them, so the new image is traced too. Returns env itself when nothing is missing; otherwise
/// fills `out` (capacity `cap` pointers, NULL-terminated) and returns it.
char* const* exec_env(char* const* env, char** out, size_t cap);

/// Starts tracing (constructor, or the first hook that runs before it). Idempotent.
void init();

} // namespace valley::shim
