// SPDX-License-Identifier: MIT
/// @file mem.h
/// @brief Reads of memory the shim does not own (the interpreter's objects) that never fault:
/// an address is read only once the kernel has confirmed its page is mapped and readable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace valley::shim::py {

inline constexpr uintptr_t kPage = 4096;
inline constexpr uintptr_t kUserTop = uintptr_t{1} << 47; // x86_64 canonical user space
inline constexpr uint32_t kPageSlots = 64;

// Pages this thread has seen the kernel read (page number + 1, 0 = empty), direct-mapped. A
// frame chain of a live interpreter stays in a few pages (its data stack, the code objects),
// so after the first calls a read costs a compare, not a system call.
struct Pages {
  uintptr_t page[kPageSlots];
};
extern constinit thread_local Pages t_pages __attribute__((tls_model("initial-exec")));

inline uint32_t page_slot(uintptr_t p) {
  return static_cast<uint32_t>((p ^ (p >> 6) ^ (p >> 12)) % kPageSlots);
}

/// The slow path of read(): asks the kernel about each page not yet confirmed.
bool read_slow(uintptr_t addr, void* out, size_t n);

/// True when the `n` bytes at `addr` may be loaded directly: on one page this thread has
/// already confirmed. False does not mean unreadable: read() then asks the kernel.
inline bool known_readable(uintptr_t addr, size_t n) {
  const uintptr_t p = addr / kPage;
  return addr >= kPage && addr < kUserTop - n && (addr + n - 1) / kPage == p &&
         t_pages.page[page_slot(p)] == p + 1;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// The bytes belong to the interpreter, which may free them at any time: like a debugger, the
// shim reads them anyway (a mapped page cannot fault, and every value read is checked), so the
// sanitizers must not take a read of freed or redzone bytes for a bug of valley's. A byte loop
// through volatile, so that no memcpy (which they intercept) stands in for it.
__attribute__((no_sanitize("address", "thread"))) inline void copy_foreign(uintptr_t addr,
                                                                           void* out, size_t n) {
  const volatile unsigned char* from = reinterpret_cast<const volatile unsigned char*>(addr);
  unsigned char* to = static_cast<unsigned char*>(out);
  for (size_t i = 0; i < n; ++i)
    to[i] = from[i];
}
#else
/// Copies bytes the interpreter owns, on pages known to be readable.
inline void copy_foreign(uintptr_t addr, void* out, size_t n) {
  memcpy(out, reinterpret_cast<const void*>(addr), n);
}
#endif

/// Copies `n` bytes at `addr` into `out` when every byte is readable; false (nothing usable in
/// `out`) for null, non-canonical or unmapped addresses. No allocation, no locks, never faults
/// on a page it has not confirmed.
inline bool read(uintptr_t addr, void* out, size_t n) {
  if (known_readable(addr, n)) {
    copy_foreign(addr, out, n);
    return true;
  }
  return read_slow(addr, out, n);
}

template <class T> inline bool read_as(uintptr_t addr, T* out) {
  return read(addr, out, sizeof(T));
}

/// The slow path of readable(): asks the kernel about the pages not yet confirmed, 64 a call.
bool readable_slow(uintptr_t addr, size_t n);

/// True when every byte of [addr, addr + n) may be loaded: on pages this thread has confirmed,
/// asking the kernel about those it has not. The coalescer copies the program's write buffers
/// itself, where the kernel would have checked them (I-20).
inline bool readable(uintptr_t addr, size_t n) {
  return n == 0 || known_readable(addr, n) || readable_slow(addr, n);
}

/// Forgets the pages this thread has confirmed (after a test unmaps memory it used).
void forget_pages();

} // namespace valley::shim::py
