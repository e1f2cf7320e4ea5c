// SPDX-License-Identifier: MIT
/// @file hook_checks.h
/// @brief Included once at the end of a file of hand-written hooks, after that file defines
/// VALLEY_C_LINE_<its file code>(...) as __VA_ARGS__: one static_assert per hooks.def C line of
/// that file, that the hook has the type its line gives the real function (real.h).
/// Not include-guarded on purpose: it expands hooks.def for the file that includes it.
#ifndef VALLEY_C_LINE_fd
#define VALLEY_C_LINE_fd(...)
#endif
#ifndef VALLEY_C_LINE_socket
#define VALLEY_C_LINE_socket(...)
#endif
#ifndef VALLEY_C_LINE_sync
#define VALLEY_C_LINE_sync(...)
#endif
#ifndef VALLEY_C_LINE_process
#define VALLEY_C_LINE_process(...)
#endif
#ifndef VALLEY_C_LINE_flush
#define VALLEY_C_LINE_flush(...)
#endif
#define C(file, name, type) VALLEY_C_LINE_##file(VALLEY_CHECK_HOOK(name, type))
#include "hooks.def"
