// SPDX-License-Identifier: MIT
/// @file write_gather.cpp
/// @brief write-gather: a few writes to one fd (header then body) go out back to back before
/// every read of that fd → one writev()/sendmsg(), or MSG_MORE/TCP_CORK on TCP. Never advises
/// buffering across the read. Victims: tests/report/victims/header_body.c, the demo's
/// send_request. Quiet when the writes are large or the bursts are rare. When the bursts stall
/// on TCP (Nagle's algorithm and delayed ACKs), nagle-stall explains them first.
#include "analyses/bursts.h"
#include "rules/rule.h"
#include "text.h"

#include <fmt/format.h>

namespace valley::advisor {

namespace {

std::optional<Finding> evaluate(const SiteAgg& a, const RunModel& m, const AdvisorSettings& s) {
  if (!a.output || !stream_kind(a.kind) || a.calls < s.min_calls) return {};
  if (!op_moves_data(static_cast<Op>(a.op))) return {};
  if (a.size_quantile(0.5) >= s.large_io_bytes) return {};
  const Bursts* bursts = find_analysis<Bursts>(m);
  if (!bursts) return {};
  const BurstFacts& b = bursts->of(a);
  if (b.bursts * 2 < a.calls || b.burst_calls <= b.bursts) return {};
  Finding f;
  f.site = &a;
  f.before = b.burst_calls;
  f.after = static_cast<double>(b.bursts);
  const double saved = static_cast<double>(f.before) - f.after;
  if (saved < s.min_saving * static_cast<double>(f.before)) return {};
  f.saved_ns = saved * a.cost_ns;
  f.severity = severity_for(saved / static_cast<double>(f.before), saturate_u64(saved));
  f.language = language_of(a);
  for (auto& [id, n] : b.partners)
    if (const SiteAgg* p = m.by_id(id)) f.related.push_back(p);
  const double per = static_cast<double>(b.burst_calls) / static_cast<double>(b.bursts);
  f.summary = fmt::format("{} times, {:.1f} writes go out back to back before a read of the same fd",
                          b.bursts, per);
  const bool tcp = a.kind == static_cast<uint8_t>(FdKind::tcp);
  const bool sock = tcp || a.kind == static_cast<uint8_t>(FdKind::unix_stream);
  f.change = fmt::format("send the pieces with one {} (an iovec per piece){}; keep the read after it "
                         "(do not buffer across the read)",
                         sock ? "sendmsg()/writev()" : "writev()",
                         tcp ? ", or pass MSG_MORE on all but the last send() / set TCP_CORK around "
                               "the burst"
                             : sock ? ", or MSG_MORE on all but the last send()" : "");
  switch (f.language) {
  case Language::python: f.idiom = "sock.sendmsg([header, body]) or os.writev(fd, [header, body])"; break;
  case Language::perl: f.idiom = "print $sock $header . $body (one syswrite of both)"; break;
  case Language::java: f.idiom = "one GatheringByteChannel.write(new ByteBuffer[] {header, body})"; break;
  case Language::node: f.idiom = "socket.cork(); socket.write(header); socket.write(body); socket.uncork()"; break;
  case Language::rust: f.idiom = "write_vectored(&[IoSlice::new(&header), IoSlice::new(&body)])"; break;
  case Language::go: f.idiom = "net.Buffers{header, body}.WriteTo(conn)"; break;
  case Language::cpp_streams: f.idiom = "build the message first, then one write; or ::writev on the fd"; break;
  default: f.idiom = "struct iovec iov[2] = {{hdr, hn}, {body, bn}}; writev(fd, iov, 2);"; break;
  }
  // For the binary as it is: the coalescer joins the burst's sends and writes them out before
  // the read that follows (a read of the socket or pipe always flushes), one syscall per burst
  // as a gather makes. The config names each site of the burst and the fd's kind.
  const auto k = static_cast<FdKind>(a.kind);
  f.coalescible = k == FdKind::tcp || k == FdKind::unix_stream || k == FdKind::pipe;
  if (f.coalescible) f.coalesce_kind = fd_kind_name(k); // the [coalesce] kinds use these names
  return f;
}

} // namespace

extern const RuleDef rule_write_gather{"write-gather", 20, {&Bursts::def}, evaluate};

} // namespace valley::advisor
