// SPDX-License-Identifier: MIT
/// @file coverage.h
/// @brief The kernel's count of this image's read and write syscalls (/proc), for the
/// coverage figures: what valley saw next to what happened.
#pragma once

#include "valley/format.h"

#include <cstdint>

namespace valley::shim {

/// The kernel's I/O counts at tracing start (and in a fork child, a fresh start: the parent's
/// ended threads are forgotten).
void coverage_start();

/// A thread that made calls is ending (its last moment in valley): its kernel counts are kept,
/// since its /proc/self/task entry goes with it.
void coverage_thread_exited(uint32_t tid);

/// Fills the kernel's side of `c` (valid = 1) from the counts since coverage_start(), without
/// valley's own reads and writes; leaves it alone when /proc cannot be read.
void coverage_kernel_side(Coverage* c);

} // namespace valley::shim
