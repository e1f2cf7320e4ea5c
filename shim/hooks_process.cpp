// SPDX-License-Identifier: MIT
/// @file hooks_process.cpp
/// @brief exec and the exit paths that skip destructors: the trace is drained and its
/// coverage recorded first, and exec keeps LD_PRELOAD and VALLEY_* so the new image is traced.
#include "hooks.h"

#include <cerrno>
#include <cstdarg>
#include <unistd.h>

using namespace valley;
using namespace valley::shim;

namespace {

constexpr size_t kEnvCap = 2048; // pointers on the stack for an extended environment
constexpr size_t kArgCap = 4096; // arguments of execl and friends

int do_execve(const char* path, char* const* argv, char* const* envp) {
  char* buf[kEnvCap];
  char* const* env = exec_env(envp, buf, kEnvCap);
  exec_starting();
  auto f = VALLEY_REAL(execve);
  int r = f ? f(path, argv, env) : static_cast<int>(syscall(SYS_execve, path, argv, env));
  exec_failed();
  return r;
}

int do_execvpe(const char* file, char* const* argv, char* const* envp) {
  char* buf[kEnvCap];
  char* const* env = exec_env(envp, buf, kEnvCap);
  exec_starting();
  auto f = VALLEY_REAL(execvpe);
  int r = f ? f(file, argv, env) : static_cast<int>(syscall(SYS_execve, file, argv, env));
  exec_failed();
  return r;
}

// Collects execl-style arguments (arg0, ..., NULL) into argv; false, with errno E2BIG, if
// there are more than fit.
bool collect(const char* arg0, va_list ap, char** argv) {
  size_t n = 0;
  argv[n++] = const_cast<char*>(arg0);
  while (argv[n - 1]) {
    if (n == kArgCap) {
      errno = E2BIG;
      return false;
    }
    argv[n++] = va_arg(ap, char*);
  }
  return true;
}

} // namespace

VALLEY_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) noexcept {
  return do_execve(path, argv, envp);
}

VALLEY_EXPORT int execv(const char* path, char* const argv[]) noexcept {
  return do_execve(path, argv, environ);
}

VALLEY_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) noexcept {
  return do_execvpe(file, argv, envp);
}

VALLEY_EXPORT int execvp(const char* file, char* const argv[]) noexcept {
  return do_execvpe(file, argv, environ);
}

VALLEY_EXPORT int execl(const char* path, const char* arg0, ...) noexcept {
  char* argv[kArgCap];
  va_list ap;
  va_start(ap, arg0);
  bool ok = collect(arg0, ap, argv);
  va_end(ap);
  return ok ? do_execve(path, argv, environ) : -1;
}

VALLEY_EXPORT int execlp(const char* file, const char* arg0, ...) noexcept {
  char* argv[kArgCap];
  va_list ap;
  va_start(ap, arg0);
  bool ok = collect(arg0, ap, argv);
  va_end(ap);
  return ok ? do_execvpe(file, argv, environ) : -1;
}

VALLEY_EXPORT int execle(const char* path, const char* arg0, ...) noexcept {
  char* argv[kArgCap];
  va_list ap;
  va_start(ap, arg0);
  bool ok = collect(arg0, ap, argv);
  char* const* envp = ok ? va_arg(ap, char* const*) : nullptr;
  va_end(ap);
  return ok ? do_execve(path, argv, envp) : -1;
}

VALLEY_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) noexcept {
  char* buf[kEnvCap];
  char* const* env = exec_env(envp, buf, kEnvCap);
  exec_starting();
  auto f = VALLEY_REAL(fexecve);
  int r = f ? f(fd, argv, env) : static_cast<int>(syscall(SYS_execveat, fd, "", argv, env, 0x1000));
  exec_failed();
  return r;
}

// Tracing starts when libvalley is loaded (or at the first hooked call, if another library's
// constructor makes one earlier) and ends with the destructor, or with an exit path below.
__attribute__((constructor)) static void valley_constructor() { init(); }
__attribute__((destructor)) static void valley_destructor() { image_ending(); }

VALLEY_EXPORT void _exit(int status) {
  image_ending();
  auto f = VALLEY_REAL(_exit);
  if (f) f(status);
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}

VALLEY_EXPORT void _Exit(int status) {
  image_ending();
  auto f = VALLEY_REAL(_Exit);
  if (f) f(status);
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}

VALLEY_EXPORT void quick_exit(int status) noexcept {
  image_ending();
  auto f = VALLEY_REAL(quick_exit);
  if (f) f(status);
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}

// hooks.def's C lines of this file give the types of the hooks above.
#define VALLEY_C_LINE_process(...) __VA_ARGS__
#include "hook_checks.h"
