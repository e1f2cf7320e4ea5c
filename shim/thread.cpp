// SPDX-License-Identifier: MIT
#include "thread.h"

#include "hot.h"

#include <csignal>
#include <sys/syscall.h>
#include <unistd.h>

namespace valley::shim {

constinit thread_local Thread t_thread __attribute__((tls_model("initial-exec"))){};

namespace {

// Below the frame it interrupts, the kernel puts at least the red zone, siginfo, ucontext and
// the FPU state before the handler's own frame.
constexpr uintptr_t kSignalFrameMin = 1024;

// On an alternate signal stack the stack pointer says nothing about the thread's stack.
bool on_altstack() {
  stack_t ss{};
  if (::syscall(SYS_sigaltstack, nullptr, &ss) != 0) return true;
  return (ss.ss_flags & SS_ONSTACK) != 0;
}

VALLEY_COLD bool still_inside(Thread& t, uintptr_t sp) {
  if (sp + kSignalFrameMin <= t.outer_sp || on_altstack()) return true;
  recover_thread(t);
  return false;
}

} // namespace

VALLEY_HOT bool enter_valley(Thread& t) {
  const uintptr_t sp = stack_pointer();
  if (t.busy && still_inside(t, sp)) return true;
  // A handler that lands between these stores is an outermost call itself and leaves busy at
  // 0; the second store of outer_sp puts back the value it may have overwritten.
  t.outer_sp = sp;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t.busy = 1;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t.outer_sp = sp;
  return false;
}

} // namespace valley::shim
