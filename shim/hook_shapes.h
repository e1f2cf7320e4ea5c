// SPDX-License-Identifier: MIT
/// @file hook_shapes.h
/// @brief The argument lists of the hooks in hooks.def, as function types of (shape, op): an
/// out op takes const buffers, an in op writable ones, as libc declares them.
#pragma once

#include "valley/format.h"

#include <ctime>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <type_traits>

namespace valley::shim {

template <Op op> using Buf = std::conditional_t<op_is_output(op), const void*, void*>;
template <Op op> using Msg = std::conditional_t<op_is_output(op), const msghdr*, msghdr*>;
template <Op op> using Addr = std::conditional_t<op_is_output(op), const sockaddr*, sockaddr*>;
template <Op op> using AddrLen = std::conditional_t<op_is_output(op), socklen_t, socklen_t*>;

} // namespace valley::shim

#define VALLEY_SIG_buf(op) ssize_t(int, Buf<Op::op>, size_t)
#define VALLEY_SIG_pbuf(op) ssize_t(int, Buf<Op::op>, size_t, off_t)
#define VALLEY_SIG_vec(op) ssize_t(int, const iovec*, int)
#define VALLEY_SIG_pvec(op) ssize_t(int, const iovec*, int, off_t)
#define VALLEY_SIG_pvec2(op) ssize_t(int, const iovec*, int, off_t, int)
#define VALLEY_SIG_chk(op) ssize_t(int, void*, size_t, size_t)
#define VALLEY_SIG_pchk(op) ssize_t(int, void*, size_t, off_t, size_t)
#define VALLEY_SIG_flags(op) ssize_t(int, Buf<Op::op>, size_t, int)
#define VALLEY_SIG_addr(op) ssize_t(int, Buf<Op::op>, size_t, int, Addr<Op::op>, AddrLen<Op::op>)
#define VALLEY_SIG_msg(op) ssize_t(int, Msg<Op::op>, int)
#define VALLEY_SIG_smmsg(op) int(int, mmsghdr*, unsigned, int)
#define VALLEY_SIG_rmmsg(op) int(int, mmsghdr*, unsigned, int, timespec*)
#define VALLEY_SIG_flags_chk(op) ssize_t(int, void*, size_t, size_t, int)
#define VALLEY_SIG_from_chk(op) ssize_t(int, void*, size_t, size_t, int, sockaddr*, socklen_t*)
