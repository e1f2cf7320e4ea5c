// SPDX-License-Identifier: MIT
#include "python/mem.h"

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

void forget_pages() { memset(&t_pages, 0, sizeof t_pages); }

} // namespace valley::shim::py
