// SPDX-License-Identifier: MIT
/// @file nagle_stall.cpp
/// @brief nagle-stall: a burst of small sends on a TCP socket without TCP_NODELAY, then a wait
/// for the answer. Nagle's algorithm holds the last send until the peer acknowledges the first,
/// and the peer, with nothing to send until the request is whole, delays that ACK (40 ms on
/// Linux): every request stalls. The wait after such bursts is measured against the wait
/// without the stall, and the difference is the wall time a single send per burst saves. It is
/// usually the biggest cost of the run, so it ranks first. Victim: tests/report/victims/nagle.c.
#include "rules/rule.h"
#include "text.h"
#include "valley/flush_rules.h"

#include <fmt/format.h>

#include <cmath>
#include <map>

namespace valley::advisor {

namespace {

/// A wait is a stall when it exceeds the wait without one by this much: below the 40 ms that
/// Linux's delayed ACK takes at least (TCP_DELACK_MIN), far above a loopback round trip.
constexpr double kStallNs = 30e6;
constexpr double kDelayedAckNs = 40e6;
constexpr uint64_t kMinStalls = 3;

/// Waits in a log scale, eight buckets per power of two, each keeping its count and exact sum:
/// sums over a range of waits are exact but for the bucket at its edge.
class Waits {
public:
  void add(double ns) {
    Bucket& b = b_[index(ns)];
    ++b.n;
    b.sum += ns;
    ++n_;
    min_ = n_ == 1 ? ns : std::min(min_, ns);
  }
  uint64_t count() const { return n_; }
  double min() const { return min_; }
  /// Median of the waits below `limit` (all when limit is infinite).
  double median_below(double limit) const {
    uint64_t total = 0;
    for (const auto& [i, b] : b_)
      if (b.sum / static_cast<double>(b.n) < limit) total += b.n;
    uint64_t acc = 0;
    for (const auto& [i, b] : b_) {
      if (b.sum / static_cast<double>(b.n) >= limit) continue;
      acc += b.n;
      if (acc * 2 >= total) return b.sum / static_cast<double>(b.n);
    }
    return 0;
  }
  /// Count and sum of the waits of at least `limit` (by their bucket's mean).
  std::pair<uint64_t, double> at_least(double limit) const {
    std::pair<uint64_t, double> r{0, 0};
    for (const auto& [i, b] : b_)
      if (b.sum / static_cast<double>(b.n) >= limit) r.first += b.n, r.second += b.sum;
    return r;
  }

private:
  struct Bucket {
    uint64_t n = 0;
    double sum = 0;
  };
  static int index(double ns) { return ns < 1 ? 0 : static_cast<int>(std::log2(ns) * 8); }
  std::map<int, Bucket> b_;
  uint64_t n_ = 0;
  double min_ = 0;
};

/// Per site that starts bursts on TCP: the waits after them.
struct Group {
  Waits multi;                         ///< after 2+ small sends
  Waits single;                        ///< after one send
  uint64_t sends = 0;                  ///< sends in the multi bursts
  std::map<size_t, uint64_t> partners; ///< the other sites of those bursts
  std::map<size_t, uint64_t> waiters;  ///< the sites that waited
  bool flags_known = false;            ///< the shim recorded TCP_NODELAY/TCP_CORK
  uint64_t nodelay_bursts = 0;         ///< bursts on sockets with TCP_NODELAY or TCP_CORK set
  uint64_t apart = 0; ///< stalled bursts with another call of the process between their sends
};

/// FileRow::reserved[0]: bit 0 TCP_NODELAY, bit 1 TCP_CORK, bit 7 the two are recorded.
constexpr uint8_t kTcpNodelay = 1u << 0, kTcpCork = 1u << 1, kTcpFlagsValid = 1u << 7;

class NagleWaits : public Analysis {
public:
  explicit NagleWaits(const AdvisorSettings& s) : s_(s) {}
  void begin_process(const ProcessContext& p) override { p_ = &p; }

  void call(const Call& c, std::unique_ptr<FdData>& data) override {
    // Only a call that makes the coalescer write out a socket's buffer separates two sends
    // (include/valley/flush_rules.h): reading the body from a file between them does not (B-19).
    const bool tcp = c.site && c.site->kind == static_cast<uint8_t>(FdKind::tcp);
    if (tcp || !c.site || separates(c)) ++seq_;
    if (!tcp) return;
    if (!op_moves_data(static_cast<Op>(c.e.op))) return;
    if (!data) data = std::make_unique<Fd>();
    Fd& f = static_cast<Fd&>(*data);
    if (c.site->output) {
      if (f.sites.empty()) {
        const uint32_t id = p_->model.file_at(c.e.fd, c.e.ticks);
        f.flags = id >= 1 && id <= p_->trace.files.size() ? p_->trace.files[id - 1].reserved[0] : 0;
        f.small = true;
        f.absorbed = false;
        f.apart = false;
      } else if (seq_ != f.last_seq + 1) {
        f.apart = true;
      }
      f.last_seq = seq_;
      if (f.sites.size() <= s_.gather_max_burst) f.sites.push_back(c.site->id);
      f.small = f.small && c.e.size < s_.large_io_bytes;
      f.absorbed = f.absorbed || !c.syscall();
      return;
    }
    if (f.sites.empty()) return; // a second read of the same answer: not a wait after a burst
    Group& g = groups_[f.sites.front()];
    const bool known = f.flags & kTcpFlagsValid;
    g.flags_known = g.flags_known || known;
    if (f.sites.size() == 1) {
      g.single.add(c.duration_ns);
    } else if (known && (f.flags & (kTcpNodelay | kTcpCork))) {
      ++g.nodelay_bursts;
    } else if (f.sites.size() <= s_.gather_max_burst && f.small && !f.absorbed) {
      g.multi.add(c.duration_ns);
      g.sends += f.sites.size();
      for (size_t i = 1; i < f.sites.size(); ++i)
        if (f.sites[i] != f.sites.front()) ++g.partners[f.sites[i]];
      ++g.waiters[c.site->id];
      if (f.apart) ++g.apart;
    }
    f.sites.clear();
  }

  void run(const Call& first, const Spread& t, std::unique_ptr<FdData>& data) override {
    seq_ += t.last;
    if (data && first.site && first.site->kind == static_cast<uint8_t>(FdKind::tcp))
      static_cast<Fd&>(*data).last_seq = seq_;
    if (data && first.site && first.site->kind == static_cast<uint8_t>(FdKind::tcp))
      static_cast<Fd&>(*data).absorbed = true; // the coalescer sent these as one
  }

  static bool separates(const Call& c) {
    const FdKind kind = static_cast<FdKind>(c.site->kind);
    const bool mem = kind == FdKind::chardev && mem_device_path(c.site->top_path());
    return flush_before_call(static_cast<Op>(c.e.op), kind, false, mem) != FlushCause::none;
  }

  const Group* of(const SiteAgg& a) const {
    auto it = groups_.find(a.id);
    return it == groups_.end() ? nullptr : &it->second;
  }
  static const AnalysisDef def;

private:
  struct Fd : FdData {
    std::vector<size_t> sites; ///< the sends since the last read
    uint8_t flags = 0;
    bool small = true, absorbed = false;
    bool apart = false;    ///< another call of the process came between two of the sends
    uint64_t last_seq = 0; ///< the process's call number of the latest send
  };
  const AdvisorSettings& s_;
  const ProcessContext* p_ = nullptr;
  std::map<size_t, Group> groups_;
  uint64_t seq_ = 0; ///< calls of the run so far: tells sends back to back from sends apart
};

const AnalysisDef NagleWaits::def{"nagle-waits",
                                  [](const AdvisorSettings& s) -> std::unique_ptr<Analysis> {
                                    return std::make_unique<NagleWaits>(s);
                                  }};

struct Prediction {
  double base_ns = 0;    ///< the wait without the stall
  std::string basis;     ///< how base_ns was found
  uint64_t stalled = 0;  ///< bursts whose wait held a stall
  double stalled_ns = 0; ///< their waits, in all
  double saved_ns() const {
    return std::max(0.0, stalled_ns - base_ns * static_cast<double>(stalled));
  }
};

// The wait without the stall: that after single sends of the same site, when there are some;
// else that of the bursts that did not stall (a new connection acknowledges at once for a
// while); else, when every burst stalled, the shortest wait less one delayed ACK.
Prediction predict(const Group& g) {
  Prediction p;
  const double inf = INFINITY;
  if (g.single.count() >= 3) {
    p.base_ns = g.single.median_below(inf);
    p.basis = fmt::format("the wait after the {} single sends of the same site (median {})",
                          g.single.count(), format_ns(p.base_ns));
  } else if (g.multi.min() < kStallNs) {
    const double limit = g.multi.min() + kStallNs;
    p.base_ns = g.multi.median_below(limit);
    p.basis = fmt::format("the wait after the {} bursts that did not stall (median {})",
                          g.multi.count() - g.multi.at_least(limit).first, format_ns(p.base_ns));
  } else {
    p.base_ns = std::max(0.0, g.multi.min() - kDelayedAckNs);
    p.basis = fmt::format("no burst went without a stall: the shortest wait ({}) is taken to hold "
                          "one 40 ms delayed ACK",
                          format_ns(g.multi.min()));
  }
  std::tie(p.stalled, p.stalled_ns) = g.multi.at_least(p.base_ns + kStallNs);
  return p;
}

std::string idiom(Language l) {
  switch (l) {
  case Language::python:
    return "sock.sendmsg([header, body]), or sock.setsockopt(socket.IPPROTO_TCP, "
           "socket.TCP_NODELAY, 1)";
  case Language::perl:
    return "print $sock $header . $body, or setsockopt($sock, IPPROTO_TCP, TCP_NODELAY, 1)";
  case Language::java:
    return "one write of header and body, or socket.setTcpNoDelay(true)";
  case Language::node:
    return "socket.cork(); socket.write(header); socket.write(body); socket.uncork(), or "
           "socket.setNoDelay(true)";
  case Language::ruby:
    return "sock.write(header + body), or sock.setsockopt(Socket::IPPROTO_TCP, "
           "Socket::TCP_NODELAY, 1)";
  case Language::rust:
    return "stream.write_vectored(&[IoSlice::new(&header), IoSlice::new(&body)]), or "
           "stream.set_nodelay(true)";
  case Language::go:
    return "net.Buffers{header, body}.WriteTo(conn); Go sets TCP_NODELAY unless SetNoDelay(false)";
  default:
    return "struct iovec iov[2] = {{hdr, hn}, {body, bn}}; writev(fd, iov, 2); or int one = 1; "
           "setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one)";
  }
}

std::optional<Finding> evaluate(const SiteAgg& a, const RunModel& m, const AdvisorSettings&) {
  if (!a.output || a.kind != static_cast<uint8_t>(FdKind::tcp)) return {};
  const NagleWaits* nw = find_analysis<NagleWaits>(m);
  const Group* g = nw ? nw->of(a) : nullptr;
  if (!g || g->multi.count() == 0) return {};
  const Prediction p = predict(*g);
  if (p.stalled < kMinStalls || p.saved_ns() <= 0) return {};
  Finding f;
  f.site = &a;
  f.before = g->sends;
  f.after = static_cast<double>(g->multi.count());
  f.saved_ns = (static_cast<double>(f.before) - f.after) * a.cost_ns;
  f.saved_wait_ns = p.saved_ns();
  f.severity = severity_for(0, 0, f.saved_wall_ns(), m.wall_ns);
  f.language = language_of(a);
  for (auto& [id, n] : g->partners)
    if (const SiteAgg* s = m.by_id(id)) f.related.push_back(s);
  const double per = static_cast<double>(g->sends) / static_cast<double>(g->multi.count());
  f.summary = fmt::format(
      "{} of {} bursts of {:.1f} small sends on TCP stalled before the answer came: {} per wait "
      "against {} without the stall; Nagle's algorithm holds the last send until the peer "
      "acknowledges the first, and the peer delays that ACK",
      p.stalled, g->multi.count(), per, format_ns(p.stalled_ns / static_cast<double>(p.stalled)),
      format_ns(p.base_ns));
  // The coalescer sends what it holds before any other call of the process: it joins only
  // sends made back to back, or with only calls between them that leave its buffer alone (a
  // read of a regular file, B-19); a server that polls or reads a pipe between them is not.
  const bool back_to_back = 2 * g->apart <= g->multi.count();
  f.change =
      "send each burst at once: one writev()/sendmsg() with an iovec per piece; or MSG_MORE on "
      "every send() but the last; or TCP_CORK around the burst (uncork after the last piece); or "
      "TCP_NODELAY on the socket. ";
  if (back_to_back)
    f.change += "For the binary as it is, coalesce these sends with `valley run --config FILE`, "
                "FILE from `valley report --emit-config FILE` (a [coalesce] table with kinds = "
                "[\"tcp\"] and these sites): the coalescer writes the burst as one send before "
                "the read";
  else
    f.change += fmt::format(
        "valley's coalescer cannot fix the binary as it is: in {} of these bursts the program "
        "made other calls between the sends (a poll, or a read of a pipe or socket), and "
        "the coalescer sends what it holds before such calls",
        g->apart);
  f.idiom = idiom(f.language);
  f.notes.push_back("the wait without the stall is " + p.basis);
  if (!g->flags_known)
    f.notes.push_back("this trace does not record whether TCP_NODELAY or TCP_CORK was set (the "
                      "shim that wrote it does not): inferred from the waits");
  for (auto& [id, n] : g->waiters)
    if (const SiteAgg* w = m.by_id(id))
      f.notes.push_back(fmt::format("the program waits in {}", site_text(*w)));
  f.coalescible = back_to_back;
  if (back_to_back) f.coalesce_kind = "tcp";
  return f;
}

} // namespace

extern const RuleDef rule_nagle_stall{"nagle-stall", 10, {&NagleWaits::def}, evaluate};

} // namespace valley::advisor
