// SPDX-License-Identifier: MIT
#include "owner_lock.h"

#include "hot.h"
#include "sys.h"

#include <ctime>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace valley::shim::owner {

VALLEY_HOT_DATA constinit BusyCount g_busy{};
// Closed until init() registers.
VALLEY_HOT_DATA constinit std::atomic<uint32_t> g_revoked{kUnregistered};

namespace {

enum Role : uint8_t { kUnknown, kOwner, kOther, kHelper };
constinit thread_local Role t_role __attribute__((tls_model("initial-exec"))) = kUnknown;

constexpr uint64_t kMaxWaitNs = 1000000000; // an owner inside its window longer: it left by longjmp

bool barrier() {
  return ::syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
}

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Waits for the owner to leave its window: spins briefly, then naps (the owner may be inside
// a flush that blocks on a slow reader).
bool wait_owner_out() {
  uint64_t since = 0;
  for (uint32_t spins = 0; g_busy.n.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < 256) continue;
    if (since == 0) since = now_ns();
    else if (now_ns() - since > kMaxWaitNs) return false;
    timespec nap{0, 20000};
    clock_nanosleep(CLOCK_MONOTONIC, 0, &nap, nullptr);
  }
  return true;
}

// The owner's tid: the pid of the process that registered (set again in a fork child).
VALLEY_HOT_DATA constinit std::atomic<uint32_t> g_owner_tid{0};

// A second program thread: the window closes for good before it touches anything the owner
// updates with plain instructions. Every revoker waits (kClosed is set only once one has seen
// the owner out). If the owner seems stuck inside, this thread goes on (it must make its
// call): at worst a counter add races, and the coalescer's buffer stays out of its reach, since
// exclude() fails until the owner is seen out. A window never spans anything that blocks (a
// flush holds the mutex instead), so the wait is short.
void revoke_for_good() {
  const uint32_t was = g_revoked.fetch_or(kForGood, std::memory_order_seq_cst);
  if (was & (kClosed | kUnregistered)) return; // no window can be open
  barrier();
  if (wait_owner_out()) g_revoked.fetch_or(kClosed, std::memory_order_release);
}

} // namespace

VALLEY_HOT bool is_owner() {
  if (t_role == kUnknown) {
    // Not gettid() == getpid(): a vfork child shares this thread's TLS and is its own
    // process's main thread, but it must not make the thread that forked it an owner.
    const uint32_t owner = g_owner_tid.load(std::memory_order_relaxed);
    if (owner == 0) return false; // before init(): no window yet, and nothing to decide
    const bool main_thread = static_cast<uint32_t>(sys::gettid()) == owner;
    if (!main_thread) revoke_for_good();
    t_role = main_thread ? kOwner : kOther;
  }
  return t_role == kOwner;
}

bool exclude() {
  if (g_revoked.load(std::memory_order_acquire) & (kClosed | kUnregistered)) return true;
  g_revoked.fetch_or(kHeld, std::memory_order_seq_cst);
  if (!barrier()) {
    g_revoked.fetch_and(~uint32_t{kHeld}, std::memory_order_release);
    return false;
  }
  if (wait_owner_out()) {
    // Revoked for good and seen out: later exclusions need no barrier.
    if (g_revoked.load(std::memory_order_relaxed) & kForGood)
      g_revoked.fetch_or(kClosed, std::memory_order_release);
    return true;
  }
  // Still inside after a second: a signal handler that runs long, a debugger stop, or a frame
  // left by longjmp. Nothing may touch what the window guards; no window opens again.
  g_revoked.fetch_or(kForGood, std::memory_order_seq_cst);
  g_revoked.fetch_and(~uint32_t{kHeld}, std::memory_order_release);
  return false;
}

void jumped(uintptr_t here, uintptr_t target) {
  if (t_role != kOwner || g_busy.n.load(std::memory_order_relaxed) == 0 ||
      !left_behind(g_busy.outer_sp, here, target))
    return;
  g_busy.outer_sp = 0;
  g_busy.n.store(0, std::memory_order_release);
}

void readmit() { g_revoked.fetch_and(~uint32_t{kHeld}, std::memory_order_release); }

void become_helper() { t_role = kHelper; }

void init() {
  jump_init();
  g_owner_tid.store(static_cast<uint32_t>(sys::getpid()), std::memory_order_relaxed);
  if (::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
    g_revoked.fetch_and(~uint32_t{kUnregistered}, std::memory_order_release);
}

void after_fork_child() {
  t_role = kUnknown;
  g_busy.n.store(0, std::memory_order_relaxed);
  g_revoked.store(kUnregistered, std::memory_order_relaxed);
  init(); // the child's memory map is a new one to register
}

} // namespace valley::shim::owner

extern "C" void* __libc_stack_end; // ld.so: the stack pointer the process started with

namespace valley::shim {

constinit StackRange g_main_stack{0, 0};

void jump_init() {
  // The main thread's frames all lie below where the process started.
  const uintptr_t top = reinterpret_cast<uintptr_t>(__libc_stack_end);
  constexpr uintptr_t kFreeBelow = uintptr_t{128} << 20;
  if (top > kFreeBelow) g_main_stack = {top - kFreeBelow, top + 1};
}

} // namespace valley::shim
