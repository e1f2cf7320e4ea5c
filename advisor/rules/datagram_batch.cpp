// SPDX-License-Identifier: MIT
/// @file datagram_batch.cpp
/// @brief datagram-batch: many small datagrams (UDP, unix dgram/seqpacket) sent or received
/// back to back → sendmmsg()/recvmmsg(), one message per datagram. Never merges datagrams
/// into one buffer: their boundaries are the protocol. Victim: tests/report/victims/udp.c.
/// Quiet for stream fds and for sites already using sendmmsg/recvmmsg.
#include "rules/rule.h"
#include "text.h"

#include <fmt/format.h>

namespace valley::advisor {

std::optional<Finding> datagram_batch(const SiteAgg& a, const RunModel&, const AdvisorSettings& s) {
  if (!datagram_kind(a.kind) || a.calls < s.min_calls || a.events == 0) return {};
  if (a.op == static_cast<uint8_t>(Op::sendmmsg) || a.op == static_cast<uint8_t>(Op::recvmmsg)) return {};
  if (a.size_quantile(0.5) >= s.large_io_bytes) return {};
  const double after = static_cast<double>(a.datagram_runs) *
                       static_cast<double>(a.calls) / static_cast<double>(a.events);
  const double saved = static_cast<double>(a.calls) - after;
  if (saved < s.min_saving * static_cast<double>(a.calls)) return {};
  Finding f;
  f.site = &a;
  f.before = a.calls;
  f.after = after;
  f.saved_ns = saved * a.avg_ns();
  f.severity = severity_for(saved / static_cast<double>(a.calls), saturate_u64(saved));
  f.language = language_of(a);
  const bool out = a.output;
  f.summary = fmt::format("{} datagrams {} one at a time (median {} B), back to back", a.calls,
                          out ? "sent" : "received", a.size_quantile(0.5));
  f.change = fmt::format("{} up to {} datagrams per call with {} (one mmsghdr per datagram; do not "
                         "merge datagrams into one buffer)",
                         out ? "send" : "receive", s.datagram_batch, out ? "sendmmsg()" : "recvmmsg()");
  f.idiom = f.language == Language::go ? "golang.org/x/net/ipv4 PacketConn.WriteBatch/ReadBatch"
            : f.language == Language::rust ? "libc::sendmmsg/recvmmsg (or the quinn-udp crate's batching)"
            : out ? "struct mmsghdr msgs[N]; sendmmsg(fd, msgs, n, 0);" : "struct mmsghdr msgs[N]; recvmmsg(fd, msgs, N, MSG_WAITFORONE, NULL);";
  f.coalescible = false; // never: datagram boundaries
  return f;
}

} // namespace valley::advisor
