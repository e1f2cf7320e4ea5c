// SPDX-License-Identifier: MIT
/// @file real.h
/// @brief The libc functions valley wraps (every H, F and C line of hooks.def), resolved with
/// dlsym(RTLD_NEXT) once, eagerly from the constructor and lazily from the first hook that runs
/// before it. The headers below declare the types those lines' signatures name.
#pragma once

#include <csignal>
#include <cstdio>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <type_traits>

#include "hook_shapes.h"

/// The real function, or nullptr while it is not resolved (the caller then makes the syscall).
#define VALLEY_REAL(name) (::valley::shim::real::ready() ? ::valley::shim::real::name : nullptr)

namespace valley::shim::real {

#define X(name, type) extern std::add_pointer_t<type> name;
#include "real_funcs.h"
#undef X

/// Resolves every pointer; safe to call again and from several threads. Returns false while a
/// resolution is already running on this thread (dlsym re-entering a hook): the caller then
/// uses the raw system call.
bool resolve_all();

extern bool g_resolved;
inline bool ready() { return g_resolved || resolve_all(); }

} // namespace valley::shim::real

namespace valley::shim {
/// The type of the function `f` points to, without noexcept or attributes (libc declares some
/// hooked functions noexcept or nonnull).
template <class R, class... A> std::type_identity<R(A...)> function_type(R (*f)(A...));
template <class R, class... A> std::type_identity<R(A..., ...)> function_type(R (*f)(A..., ...));
} // namespace valley::shim

/// For a hooks.def C line of the file that defines its hook: the hook has the type the line
/// gives its real function.
#define VALLEY_CHECK_HOOK(name, sig)                                                               \
  static_assert(std::is_same_v<decltype(::valley::shim::function_type(&::name))::type, sig>,       \
                "hooks.def: " #name "'s hook is not of its line's type");
