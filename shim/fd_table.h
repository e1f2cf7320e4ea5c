// SPDX-License-Identifier: MIT
/// @file fd_table.h
/// @brief What each fd is (kind and path), learned on first sight with fstat/getsockopt/
/// readlink and cached until open/dup/close changes it.
#pragma once

#include "segment.h"

namespace valley::shim {

struct FdInfo {
  FdKind kind;
  uint32_t file;        ///< FileRow id, 0 = none; a new one whenever the fd is classified afresh
};

/// Looks up fd, classifying it on first sight (its FileRow then starts at `now`).
FdInfo fd_lookup(Segment& seg, int fd, uint64_t now);

/// Forgets what fd was: it was closed, or now names another file.
void fd_forget(int fd);
void fd_forget_range(unsigned lo, unsigned hi);

/// A fork child starts a new segment, so cached FileRow ids no longer apply.
void fd_table_new_generation();

/// Classifies fd without caching; path receives readlink(/proc/self/fd/N). For tests, too.
/// `bits` (if given) receives FileRow::reserved[0]: the TCP_NODELAY / TCP_CORK state of a tcp
/// socket (FileBits), 0 for other kinds.
FdKind classify_fd(int fd, char* path, size_t cap, uint8_t* bits = nullptr);

/// A FileRow for a path that names no fd (fd -1, kind unknown: the path an unlink removed).
/// Returns its id, 0 when the table is full.
uint32_t path_row(Segment& seg, const char* path, uint64_t now);

} // namespace valley::shim
