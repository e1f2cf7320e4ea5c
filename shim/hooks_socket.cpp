// SPDX-License-Identifier: MIT
/// @file hooks_socket.cpp
/// @brief send/recv families (hooks.def's socket lines), made as in hooks_io.cpp, and the
/// socket calls that change what a send costs (shutdown, setsockopt).
#include "hooks.h"
#include "sys.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

using namespace valley;
using namespace valley::shim;

namespace {

uint64_t msg_bytes(const msghdr* m) { return m ? iov_bytes(m->msg_iov, static_cast<int>(m->msg_iovlen)) : 0; }

// msg_bytes of a header the kernel may never have read (the call failed: I-20).
VALLEY_COLD uint64_t msg_bytes_checked(const msghdr* m) {
  msghdr copy;
  if (!sys::copy_from_program(&copy, m, sizeof copy)) return 0;
  return iov_bytes_checked(copy.msg_iov, static_cast<int>(copy.msg_iovlen));
}

uint64_t msg_bytes_after(const msghdr* m, ssize_t r) {
  return r >= 0 ? msg_bytes(m) : msg_bytes_checked(m);
}

// The kernel reads the headers in order and stops at the first it fails on: only a call that
// went through them all vouches for every one.
uint64_t mmsg_requested(const mmsghdr* v, unsigned n, int r) {
  const bool all_read = r >= 0 && static_cast<unsigned>(r) == n;
  uint64_t total = 0;
  for (unsigned i = 0; v && i < n; ++i)
    total += all_read ? msg_bytes(&v[i].msg_hdr) : msg_bytes_checked(&v[i].msg_hdr);
  return total;
}

// For *mmsg the result counts messages; the bytes moved are in each msg_len.
uint64_t mmsg_transferred(const mmsghdr* v, int done) {
  uint64_t total = 0;
  for (int i = 0; v && i < done; ++i) total += v[i].msg_len;
  return total;
}

// The flush point of a socket call. A send around the buffer waits behind bytes buffered for
// the same socket, or with MSG_DONTWAIT (or O_NONBLOCK) fails with EAGAIN as the kernel would
// with them in the way: -1 then, 0 when the call may go ahead.
template <Op op> ssize_t blocked_behind_buffer(int fd, int flags) {
  if constexpr (!op_is_output(op)) {
    flush_point<op>(fd);
  } else if (int e = flush_before_write(fd, (flags & MSG_DONTWAIT) != 0)) {
    errno = e;
    return -1;
  }
  return 0;
}

} // namespace

// send: only plain sends reach the coalescer, since every MSG_* flag (MSG_MORE, MSG_DONTWAIT,
// MSG_OOB, …) is per call; one it refused needs no other flush point.
#define VALLEY_HOOK_flags(name, op, attr)                                                          \
  attr ssize_t name(int fd, Buf<Op::op> buf, size_t n, int flags) {                               \
    const uint64_t t0 = clock::ticks();                                                            \
    ssize_t r = 0;                                                                                 \
    bool offered = false;                                                                          \
    if constexpr (op_is_coalescible(Op::op)) {                                                     \
      const iovec one{const_cast<void*>(static_cast<const void*>(buf)), n};                        \
      if (flags == 0 && coalesced(Op::op, fd, &one, 1, VALLEY_RA, t0, &r)) return r;               \
      offered = flags == 0;                                                                        \
    }                                                                                              \
    auto f = VALLEY_REAL(name);                                                                    \
    if (offered || !(r = blocked_behind_buffer<Op::op>(fd, flags)))                                \
      r = f ? f(fd, buf, n, flags)                                                                 \
            : syscall(op_is_output(Op::op) ? SYS_sendto : SYS_recvfrom, fd, buf, n, flags,        \
                      nullptr, nullptr);                                                           \
    return io_done(Op::op, fd, n, -1, r, t0, VALLEY_RA);                                           \
  }

#define VALLEY_HOOK_addr(name, op, attr)                                                           \
  attr ssize_t name(int fd, Buf<Op::op> buf, size_t n, int flags, Addr<Op::op> addr,              \
                    AddrLen<Op::op> len) {                                                         \
    const uint64_t t0 = clock::ticks();                                                            \
    auto f = VALLEY_REAL(name);                                                                    \
    ssize_t r = blocked_behind_buffer<Op::op>(fd, flags);                                          \
    if (!r)                                                                                        \
      r = f ? f(fd, buf, n, flags, addr, len)                                                      \
            : syscall(op_is_output(Op::op) ? SYS_sendto : SYS_recvfrom, fd, buf, n, flags, addr,   \
                      len);                                                                        \
    return io_done(Op::op, fd, n, -1, r, t0, VALLEY_RA);                                           \
  }

#define VALLEY_HOOK_msg(name, op, attr)                                                            \
  attr ssize_t name(int fd, Msg<Op::op> msg, int flags) {                                          \
    const uint64_t t0 = clock::ticks();                                                            \
    auto f = VALLEY_REAL(name);                                                                    \
    ssize_t r = blocked_behind_buffer<Op::op>(fd, flags);                                          \
    if (!r)                                                                                        \
      r = f ? f(fd, msg, flags)                                                                    \
            : syscall(op_is_output(Op::op) ? SYS_sendmsg : SYS_recvmsg, fd, msg, flags);           \
    return io_done(Op::op, fd, msg_bytes_after(msg, r), -1, r, t0, VALLEY_RA);                     \
  }

#define VALLEY_HOOK_smmsg(name, op, attr)                                                          \
  attr int name(int fd, mmsghdr* vec, unsigned vlen, int flags) {                                  \
    static_assert(op_is_output(Op::op) && op_is_mmsg(Op::op));                                     \
    const uint64_t t0 = clock::ticks();                                                            \
    auto f = VALLEY_REAL(name);                                                                    \
    int r = static_cast<int>(blocked_behind_buffer<Op::op>(fd, flags));                            \
    if (!r)                                                                                        \
      r = f ? f(fd, vec, vlen, flags)                                                              \
            : static_cast<int>(syscall(SYS_sendmmsg, fd, vec, vlen, flags));                       \
    return static_cast<int>(io_done(Op::op, fd, mmsg_requested(vec, vlen, r),                      \
                                    mmsg_transferred(vec, r), -1, r, t0, VALLEY_RA));              \
  }

#define VALLEY_HOOK_rmmsg(name, op, attr)                                                          \
  attr int name(int fd, mmsghdr* vec, unsigned vlen, int flags, timespec* timeout) {               \
    static_assert(!op_is_output(Op::op) && op_is_mmsg(Op::op));                                    \
    const uint64_t t0 = clock::ticks();                                                            \
    flush_point<Op::op>(fd);                                                                       \
    auto f = VALLEY_REAL(name);                                                                    \
    int r = f ? f(fd, vec, vlen, flags, timeout)                                                   \
              : static_cast<int>(syscall(SYS_recvmmsg, fd, vec, vlen, flags, timeout));            \
    return static_cast<int>(io_done(Op::op, fd, mmsg_requested(vec, vlen, r),                      \
                                    mmsg_transferred(vec, r), -1, r, t0, VALLEY_RA));              \
  }

#define VALLEY_HOOK_flags_chk(name, op, attr)                                                      \
  attr ssize_t name(int fd, void* buf, size_t n, size_t buflen, int flags) {                      \
    static_assert(!op_is_output(Op::op));                                                          \
    const uint64_t t0 = clock::ticks();                                                            \
    flush_point<Op::op>(fd);                                                                       \
    auto f = VALLEY_REAL(name);                                                                    \
    ssize_t r = f ? f(fd, buf, n, buflen, flags)                                                   \
                  : syscall(SYS_recvfrom, fd, buf, n, flags, nullptr, nullptr);                    \
    return io_done(Op::op, fd, n, -1, r, t0, VALLEY_RA);                                           \
  }

#define VALLEY_HOOK_from_chk(name, op, attr)                                                       \
  attr ssize_t name(int fd, void* buf, size_t n, size_t buflen, int flags, sockaddr* addr,        \
                    socklen_t* len) {                                                              \
    static_assert(!op_is_output(Op::op));                                                          \
    const uint64_t t0 = clock::ticks();                                                            \
    flush_point<Op::op>(fd);                                                                       \
    auto f = VALLEY_REAL(name);                                                                    \
    ssize_t r = f ? f(fd, buf, n, buflen, flags, addr, len)                                        \
                  : syscall(SYS_recvfrom, fd, buf, n, flags, addr, len);                           \
    return io_done(Op::op, fd, n, -1, r, t0, VALLEY_RA);                                           \
  }

#define VALLEY_THIS_FILE_io(...)
#define VALLEY_THIS_FILE_socket(...) __VA_ARGS__
#define VALLEY_THIS_FILE_fd(...)
#define H(file, name, op, shape, heat)                                                             \
  VALLEY_THIS_FILE_##file(VALLEY_HOOK_##shape(name, op, VALLEY_EXPORT_##heat))
#define T(file, name, twin) VALLEY_THIS_FILE_##file(VALLEY_TWIN(name, twin))
#include "hooks.def"
#undef H
#undef T

// shutdown(SHUT_WR) sends EOF: buffered bytes must be ahead of it (B-18.1), and the program's own
// send would have waited for them. From then on a write fails with EPIPE, so the fd is no
// longer buffered. A flush error stays for the next send or close.
VALLEY_EXPORT int shutdown(int fd, int how) noexcept {
  flush_before_object(fd);
  auto f = VALLEY_REAL(shutdown);
  int r = f ? f(fd, how) : static_cast<int>(syscall(SYS_shutdown, fd, how));
  if (r == 0 && how != SHUT_RD) coalesce_shut_for_writing(fd);
  return r;
}

// TCP_NODELAY and TCP_CORK decide what a small send costs: the fd is classified afresh at its
// next call, so a new FileRow with the new bits covers the calls from then on. Turning either
// off or on releases what the kernel holds, so bytes valley holds for the socket go first.
VALLEY_EXPORT int setsockopt(int fd, int level, int name, const void* value, socklen_t len) noexcept {
  const bool tcp = level == IPPROTO_TCP && (name == TCP_NODELAY || name == TCP_CORK);
  if (tcp) flush_before_object(fd);
  auto f = VALLEY_REAL(setsockopt);
  const int r = f ? f(fd, level, name, value, len)
                  : static_cast<int>(syscall(SYS_setsockopt, fd, level, name, value, len));
  if (tcp && r == 0) {
    const int saved = errno;
    fd_flags_changed(fd);
    errno = saved;
  }
  return r;
}

// hooks.def's C lines of this file give the types of the hooks above.
#define VALLEY_C_LINE_socket(...) __VA_ARGS__
#include "hook_checks.h"
