// SPDX-License-Identifier: MIT
/// @file hooks_jump.cpp
/// @brief longjmp and its relatives: before the jump, valley forgets the calls it leaves
/// behind (jump.h), then the real function jumps.
#include "hooks.h"
#include "jump.h"

#include <csetjmp>
#include <cstring>

using namespace valley;
using namespace valley::shim;

namespace {

// Where a jmp_buf will take the stack, or 0 when that cannot be read here. glibc on x86-64
// keeps the stack pointer at index 6 (JB_RSP), mangled with the thread's pointer guard
// (PTR_MANGLE: xor with the guard at %fs:0x30, then rotate left by 17 bits).
uintptr_t target_sp(const __jmp_buf_tag* env) {
#if defined(__x86_64__) && defined(__GLIBC__)
  uint64_t guard;
  asm("mov %%fs:0x30, %0" : "=r"(guard));
  const uint64_t v = static_cast<uint64_t>(env->__jmpbuf[6]);
  return static_cast<uintptr_t>(((v >> 17) | (v << 47)) ^ guard);
#else
  (void)env;
  return 0;
#endif
}

// Checked once against a jmp_buf of valley's own: a libc that mangles otherwise gets nothing
// forgotten, which is the state before this file existed.
__attribute__((noinline)) bool target_readable() {
  static std::atomic<int> known{0}; // 0: not checked yet, 1: readable, 2: not
  int k = known.load(std::memory_order_relaxed);
  if (k == 0) {
    jmp_buf env;
    std::memset(&env, 0, sizeof env);
    if (setjmp(env) != 0) return false; // never jumped to
    const uintptr_t saved = target_sp(env), here = stack_pointer();
    k = (saved > here ? saved - here : here - saved) < 4096 ? 1 : 2;
    known.store(k, std::memory_order_relaxed);
  }
  return k == 1;
}

void before_jump(const __jmp_buf_tag* env) {
  const uintptr_t here = stack_pointer();
  if (target_readable()) long_jump(here, target_sp(env));
}

using JumpFn = void (*)(__jmp_buf_tag*, int);

// The pointers as they are, without resolving: a handler may have interrupted the resolution
// on this thread. glibc's four are one function with two entry checks, so any will do.
// valley's constructor resolves them; only a jump from a handler that interrupted that
// resolution could find none.
[[noreturn]] void jump(JumpFn f, __jmp_buf_tag* env, int val) {
  if (!f) f = real::siglongjmp;
  if (!f) f = real::longjmp;
  if (!f) f = real::_longjmp;
  if (!f) f = VALLEY_REAL(siglongjmp);
  if (f) f(env, val);
  __builtin_trap();
}

} // namespace

VALLEY_EXPORT __attribute__((noreturn)) void longjmp(__jmp_buf_tag env[1], int val) noexcept {
  before_jump(env);
  jump(real::longjmp, env, val);
}

VALLEY_EXPORT __attribute__((noreturn)) void _longjmp(__jmp_buf_tag env[1], int val) noexcept {
  before_jump(env);
  jump(real::_longjmp, env, val);
}

VALLEY_EXPORT __attribute__((noreturn)) void siglongjmp(__jmp_buf_tag env[1], int val) noexcept {
  before_jump(env);
  jump(real::siglongjmp, env, val);
}

// What longjmp and siglongjmp become in a program built with _FORTIFY_SOURCE.
VALLEY_EXPORT __attribute__((noreturn)) void __longjmp_chk(__jmp_buf_tag env[1], int val) noexcept {
  before_jump(env);
  jump(real::__longjmp_chk, env, val);
}
