// SPDX-License-Identifier: MIT
#include "python/mem.h"

#include <cerrno>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

namespace valley::shim::py {

constinit thread_local Pages t_pages __attribute__((tls_model("initial-exec"))) = {};

namespace {

// process_vm_readv on our own pid fails with EFAULT on an unreadable remote range instead of
// raising SIGSEGV: the kernel does the probing.
bool probe(uintptr_t page) {
  char byte;
  iovec local{&byte, 1};
  iovec remote{reinterpret_cast<void*>(page * kPage), 1};
  const long n = syscall(SYS_process_vm_readv, static_cast<long>(syscall(SYS_getpid)), &local, 1L,
                         &remote, 1L, 0L);
  return n == 1;
}

} // namespace

bool read_slow(uintptr_t addr, void* out, size_t n) {
  if (n == 0) return true;
  if (addr < kPage || addr >= kUserTop || n > kUserTop - addr) return false;
  const uintptr_t last = (addr + n - 1) / kPage;
  for (uintptr_t p = addr / kPage; p <= last; ++p) {
    uintptr_t& slot = t_pages.page[page_slot(p)];
    if (slot == p + 1) continue;
    if (!probe(p)) return false;
    slot = p + 1;
  }
  copy_foreign(addr, out, n);
  return true;
}

namespace {

// Asks the kernel about `k` pages at once (one byte of each) and remembers the readable ones;
// true when all are.
bool confirm(const uintptr_t* pages, uint32_t k) {
  iovec remote[64];
  char sink[64];
  for (uint32_t i = 0; i < k; ++i)
    remote[i] = {reinterpret_cast<void*>(pages[i] * kPage), 1};
  iovec local{sink, k};
  const int saved = errno;
  const long got = syscall(SYS_process_vm_readv, static_cast<long>(syscall(SYS_getpid)), &local, 1L,
                           remote, static_cast<long>(k), 0L);
  errno = saved;
  if (got != static_cast<long>(k)) return false;
  for (uint32_t i = 0; i < k; ++i)
    t_pages.page[page_slot(pages[i])] = pages[i] + 1;
  return true;
}

} // namespace

bool readable_slow(uintptr_t addr, size_t n) {
  if (addr < kPage || addr >= kUserTop || n > kUserTop - addr) return false;
  const uintptr_t first = addr / kPage, last = (addr + n - 1) / kPage;
  uintptr_t ask[64];
  uint32_t k = 0;
  for (uintptr_t p = first; p <= last; ++p) {
    if (t_pages.page[page_slot(p)] == p + 1) continue;
    ask[k++] = p;
    if (k == 64) {
      if (!confirm(ask, k)) return false;
      k = 0;
    }
  }
  return k == 0 || confirm(ask, k);
}

void forget_pages() { memset(&t_pages, 0, sizeof t_pages); }

} // namespace valley::shim::py
