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

namespace {

/// Runs of datagrams from one site on one fd, each within the age bound of the previous, at
/// most `datagram_batch` long: the sendmmsg/recvmmsg calls that would replace them.
class DatagramRuns : public Analysis {
public:
  explicit DatagramRuns(const AdvisorSettings& s) : s_(s) {}
  void call(const Call& c, std::unique_ptr<FdData>& data) override {
    if (!c.site || !datagram_kind(c.site->kind) || c.site->mmsg) return;
    if (!op_moves_data(static_cast<Op>(c.e.op))) return;
    if (!data) data = std::make_unique<Fd>();
    Fd& f = static_cast<Fd&>(*data);
    const auto site = static_cast<int64_t>(c.site->id);
    if (f.site == site && f.run < s_.datagram_batch &&
        c.gap_ns <= static_cast<double>(s_.max_age_ms) * 1e6) {
      ++f.run;
    } else {
      ++runs_[c.site->id];
      f.site = site;
      f.run = 1;
    }
  }
  uint64_t of(const SiteAgg& a) const {
    const uint64_t* n = runs_.find(a);
    return n ? *n : 0;
  }

private:
  struct Fd : FdData {
    int64_t site = -1;
    uint64_t run = 0;
  };
  const AdvisorSettings& s_;
  PerSite<uint64_t> runs_;
};

const AnalysisDef kDatagramRuns{"datagram-runs",
                                [](const AdvisorSettings& s) -> std::unique_ptr<Analysis> {
                                  return std::make_unique<DatagramRuns>(s);
                                }};

std::optional<Finding> evaluate(const SiteAgg& a, const RunModel& m, const AdvisorSettings& s) {
  if (!datagram_kind(a.kind) || a.calls < s.min_calls || a.events == 0) return {};
  if (a.mmsg || !op_moves_data(static_cast<Op>(a.op))) return {};
  if (a.size_quantile(0.5) >= s.large_io_bytes) return {};
  const DatagramRuns* runs = find_analysis<DatagramRuns>(m);
  if (!runs) return {};
  const double after = static_cast<double>(runs->of(a)) * static_cast<double>(a.calls) /
                       static_cast<double>(a.events);
  const double saved = static_cast<double>(a.calls) - after;
  if (saved < s.min_saving * static_cast<double>(a.calls)) return {};
  Finding f;
  f.site = &a;
  f.before = a.calls;
  f.after = after;
  f.saved_ns = saved * a.cost_ns;
  f.severity = severity_for(saved / static_cast<double>(a.calls), saturate_u64(saved));
  f.language = language_of(a);
  const bool out = a.output;
  f.summary = fmt::format("{} datagrams {} one at a time (median {} B), back to back", a.calls,
                          out ? "sent" : "received", a.size_quantile(0.5));
  f.change = fmt::format("{} up to {} datagrams per call with {} (one mmsghdr per datagram; do not "
                         "merge datagrams into one buffer)",
                         out ? "send" : "receive", s.datagram_batch, out ? "sendmmsg()" : "recvmmsg()");
  f.idiom = f.language == Language::go     ? "golang.org/x/net/ipv4 PacketConn.WriteBatch/ReadBatch"
            : f.language == Language::rust ? "libc::sendmmsg/recvmmsg (or the quinn-udp crate's batching)"
            : out ? "struct mmsghdr msgs[N]; sendmmsg(fd, msgs, n, 0);"
                  : "struct mmsghdr msgs[N]; recvmmsg(fd, msgs, N, MSG_WAITFORONE, NULL);";
  f.coalescible = false; // never: datagram boundaries
  return f;
}

} // namespace

extern const RuleDef rule_datagram_batch{"datagram-batch", 60, {&kDatagramRuns}, evaluate};

} // namespace valley::advisor
