// SPDX-License-Identifier: MIT
/// @file mem.h
/// @brief Reads of memory the shim does not own (the interpreter's objects) that never fault:
/// an address is read only once the kernel has confirmed its page is mapped and readable.
#pragma once

#include <cstddef>
#include <cstdint>

namespace valley::shim::py {

/// Copies `n` bytes at `addr` into `out` when every byte is readable; false (nothing usable in
/// `out`) for null, non-canonical or unmapped addresses. No allocation, no locks, never faults
/// on a page it has not confirmed.
bool read(uintptr_t addr, void* out, size_t n);

template <class T> inline bool read_as(uintptr_t addr, T* out) {
  return read(addr, out, sizeof(T));
}

/// Forgets the pages this thread has confirmed (after a test unmaps memory it used).
void forget_pages();

} // namespace valley::shim::py
