// SPDX-License-Identifier: MIT
/// @file hooks_socket.cpp
/// @brief send/recv families, same shape as hooks_io.cpp.
#include "hooks.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

using namespace valley;
using namespace valley::shim;

namespace {

uint64_t msg_bytes(const msghdr* m) { return m ? iov_bytes(m->msg_iov, static_cast<int>(m->msg_iovlen)) : 0; }

uint64_t mmsg_requested(const mmsghdr* v, unsigned n) {
  uint64_t total = 0;
  for (unsigned i = 0; v && i < n; ++i) total += msg_bytes(&v[i].msg_hdr);
  return total;
}

// For *mmsg the result counts messages; the bytes moved are in each msg_len.
uint64_t mmsg_transferred(const mmsghdr* v, int done) {
  uint64_t total = 0;
  for (int i = 0; v && i < done; ++i) total += v[i].msg_len;
  return total;
}

// A send around the buffer waits behind bytes buffered for the same socket, or with
// MSG_DONTWAIT (or O_NONBLOCK) fails with EAGAIN as the kernel would with them in the way:
// -1 then, 0 when the call may go ahead.
ssize_t blocked_behind_buffer(int fd, int flags) {
  if (int e = flush_before_write(fd, (flags & MSG_DONTWAIT) != 0)) {
    errno = e;
    return -1;
  }
  return 0;
}

} // namespace

VALLEY_EXPORT_HOT ssize_t send(int fd, const void* buf, size_t n, int flags) {
  const uint64_t t0 = clock::ticks();
  ssize_t r;
  // Only plain sends: every MSG_* flag (MSG_MORE, MSG_DONTWAIT, MSG_OOB, …) is per call.
  const iovec one{const_cast<void*>(buf), n};
  if (flags == 0 && coalesced(Op::send, fd, &one, 1, VALLEY_RA, t0, &r))
    return r;
  auto f = VALLEY_REAL(send);
  if (flags == 0 || !(r = blocked_behind_buffer(fd, flags)))
    r = f ? f(fd, buf, n, flags) : syscall(SYS_sendto, fd, buf, n, flags, nullptr, 0);
  return io_done(Op::send, fd, n, -1, r, t0, VALLEY_RA);
}

VALLEY_EXPORT ssize_t __send(int fd, const void* buf, size_t n, int flags) {
  const uint64_t t0 = clock::ticks();
  ssize_t r;
  // Only plain sends: every MSG_* flag (MSG_MORE, MSG_DONTWAIT, MSG_OOB, …) is per call.
  const iovec one{const_cast<void*>(buf), n};
  if (flags == 0 && coalesced(Op::send, fd, &one, 1, VALLEY_RA, t0, &r))
    return r;
  auto f = VALLEY_REAL(__send);
  if (flags == 0 || !(r = blocked_behind_buffer(fd, flags)))
    r = f ? f(fd, buf, n, flags) : syscall(SYS_sendto, fd, buf, n, flags, nullptr, 0);
  return io_done(Op::send, fd, n, -1, r, t0, VALLEY_RA);
}

VALLEY_EXPORT_HOT ssize_t sendto(int fd, const void* buf, size_t n, int flags, const sockaddr* addr,
                                 socklen_t len) {
  const uint64_t t0 = clock::ticks();
  auto f = VALLEY_REAL(sendto);
  ssize_t r = blocked_behind_buffer(fd, flags);
  if (!r)
    r = f ? f(fd, buf, n, flags, addr, len) : syscall(SYS_sendto, fd, buf, n, flags, addr, len);
  return io_done(Op::sendto, fd, n, -1, r, t0, VALLEY_RA);
}

VALLEY_EXPORT ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  const uint64_t t0 = clock::ticks();
  const uint64_t n = msg_bytes(msg);
  auto f = VALLEY_REAL(sendmsg);
  ssize_t r = blocked_behind_buffer(fd, flags);
  if (!r) r = f ? f(fd, msg, flags) : syscall(SYS_sendmsg, fd, msg, flags);
  return io_done(Op::sendmsg, fd, n, -1, r, t0, VALLEY_RA);
}

VALLEY_EXPORT int sendmmsg(int fd, mmsghdr* vec, unsigned vlen, int flags) {
  const uint64_t t0 = clock::ticks();
  const uint64_t n = mmsg_requested(vec, vlen);
  auto f = VALLEY_REAL(sendmmsg);
  int r = static_cast<int>(blocked_behind_buffer(fd, flags));
  if (!r)
    r = f ? f(fd, vec, vlen, flags) : static_cast<int>(syscall(SYS_sendmmsg, fd, vec, vlen, flags));
  return static_cast<int>(io_done(Op::sendmmsg, fd, n, mmsg_transferred(vec, r), -1, r, t0, VALLEY_RA));
}

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

VALLEY_EXPORT_HOT ssize_t recv(int fd, void* buf, size_t n, int flags) {
  const uint64_t t0 = clock::ticks();
  flush_before_read(fd);
  auto f = VALLEY_REAL(recv);
  ssize_t r = f ? f(fd, buf, n, flags) : syscall(SYS_recvfrom, fd, buf, n, flags, nullptr, nullptr);
  return io_done(Op::recv, fd, n, -1, r, t0, VALLEY_RA);
}

VALLEY_EXPORT_HOT ssize_t recvfrom(int fd, void* buf, size_t n, int flags, sockaddr* addr,
                                   socklen_t* len) {
  const uint64_t t0 = clock::ticks();
  flush_before_read(fd);
  auto f = VALLEY_REAL(recvfrom);
  ssize_t r = f ? f(fd, buf, n, flags, addr, len) : syscall(SYS_recvfrom, fd, buf, n, flags, addr, len);
  return io_done(Op::recvfrom, fd, n, -1, r, t0, VALLEY_RA);
}

VALLEY_EXPORT ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  const uint64_t t0 = clock::ticks();
  flush_before_read(fd);
  const uint64_t n = msg_bytes(msg);
  auto f = VALLEY_REAL(recvmsg);
  ssize_t r = f ? f(fd, msg, flags) : syscall(SYS_recvmsg, fd, msg, flags);
  return io_done(Op::recvmsg, fd, n, -1, r, t0, VALLEY_RA);
}

VALLEY_EXPORT int recvmmsg(int fd, mmsghdr* vec, unsigned vlen, int flags, timespec* timeout) {
  const uint64_t t0 = clock::ticks();
  flush_before_read(fd);
  const uint64_t n = mmsg_requested(vec, vlen);
  auto f = VALLEY_REAL(recvmmsg);
  int r = f ? f(fd, vec, vlen, flags, timeout)
            : static_cast<int>(syscall(SYS_recvmmsg, fd, vec, vlen, flags, timeout));
  return static_cast<int>(io_done(Op::recvmmsg, fd, n, mmsg_transferred(vec, r), -1, r, t0, VALLEY_RA));
}

VALLEY_EXPORT ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags) {
  const uint64_t t0 = clock::ticks();
  flush_before_read(fd);
  auto f = VALLEY_REAL(__recv_chk);
  ssize_t r = f ? f(fd, buf, n, buflen, flags) : syscall(SYS_recvfrom, fd, buf, n, flags, nullptr, nullptr);
  return io_done(Op::recv_chk, fd, n, -1, r, t0, VALLEY_RA);
}

VALLEY_EXPORT ssize_t __recvfrom_chk(int fd, void* buf, size_t n, size_t buflen, int flags,
                                     sockaddr* addr, socklen_t* len) {
  const uint64_t t0 = clock::ticks();
  flush_before_read(fd);
  auto f = VALLEY_REAL(__recvfrom_chk);
  ssize_t r = f ? f(fd, buf, n, buflen, flags, addr, len)
                : syscall(SYS_recvfrom, fd, buf, n, flags, addr, len);
  return io_done(Op::recvfrom_chk, fd, n, -1, r, t0, VALLEY_RA);
}
