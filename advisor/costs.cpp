// SPDX-License-Identifier: MIT
/// @file costs.cpp
/// @brief The CPU cost of a call, apart from the time it spent waiting.
///
/// A call's duration is the kernel's work plus, for some calls, waiting: for a peer (a read of
/// an empty pipe or socket, a write to a full one), for a device (fsync, a read that misses
/// the page cache), for a lock. Batching calls removes the work of the calls it saves, never
/// the waiting: a client that waits 27 s for its server's answers waits as long when it reads
/// them with fewer calls. So a prediction may promise only the work.
///
/// The work is short and regular, the waiting long and irregular: the calls that did not wait
/// form the low end of a site's durations. On files and devices most calls do not wait (the
/// page cache answers), and a site's cost per call is the median duration of its calls that
/// made a syscall. On pipes, FIFOs, sockets and ttys waiting for a peer is common: there the
/// cost is the 25th percentile, so up to three quarters of the calls may wait without moving
/// it. Where more wait (every recv of a request/response client waits for its answer), that
/// percentile is itself a wait, so the cost is also bounded by what calls of the other
/// direction on that kind of fd cost in the run (a send on TCP does the work a recv does, and
/// seldom waits), else by the calls on files and devices, which wait for no peer. A bound too
/// low only makes a prediction smaller: it never counts waiting as saved.
#include "report_model.h"

#include <algorithm>
#include <cmath>

namespace valley::advisor {

namespace {

constexpr double kPeerQuantile = 0.25, kFileQuantile = 0.5;
constexpr uint64_t kMinSamples = 8; ///< calls a reference needs before it bounds anything

uint32_t bucket(double ns) {
  if (!(ns >= 1)) return 0;
  const double l = std::log2(ns) * DurationHist::kSub;
  return static_cast<uint32_t>(std::min<double>(l, DurationHist::kBuckets - 1));
}

} // namespace

void DurationHist::add(double ns, uint64_t n) {
  n_[bucket(ns)] += n;
  count_ += n;
}

void DurationHist::add(const DurationHist& o) {
  for (uint32_t b = 0; b < kBuckets; ++b)
    n_[b] += o.n_[b];
  count_ += o.count_;
}

double DurationHist::quantile(double q) const {
  if (count_ == 0) return 0;
  const double want = std::max(1.0, std::ceil(q * static_cast<double>(count_)));
  uint64_t acc = 0;
  for (uint32_t b = 0; b < kBuckets; ++b) {
    acc += n_[b];
    if (static_cast<double>(acc) >= want)
      return b == 0 ? 0.5 : std::exp2((b + 0.5) / kSub); // the bucket's geometric middle
  }
  return std::exp2((kBuckets - 0.5) / kSub);
}

void compute_costs(RunModel& m) {
  // Per fd kind and direction (0 in, 1 out): the run's calls that made a syscall.
  std::array<std::array<DurationHist, 2>, kFdKindMax + 1> by_kind{};
  DurationHist no_peer; // files, devices, /proc: nothing to wait for but the device
  for (const SiteAgg& a : m.sites) {
    if (a.kind > kFdKindMax || !op_moves_data(static_cast<Op>(a.op))) continue;
    by_kind[a.kind][a.output].add(a.durations);
    if (!peer_kind(a.kind)) no_peer.add(a.durations);
  }
  for (SiteAgg& a : m.sites) {
    const uint64_t syscalls = a.syscalls();
    a.cost_from_events = a.durations.count() > 0;
    if (!a.cost_from_events) {
      // No events (VALLEY_EVENTS=0, or all dropped): nothing tells work from waiting.
      a.cost_ns = syscalls ? a.time_ns / static_cast<double>(syscalls) : 0;
      a.wait_ns = 0;
      continue;
    }
    const bool peer = peer_kind(a.kind);
    double cost = a.durations.quantile(peer ? kPeerQuantile : kFileQuantile);
    if (peer && op_moves_data(static_cast<Op>(a.op))) {
      const DurationHist& other = by_kind[a.kind][!a.output];
      if (other.count() >= kMinSamples)
        cost = std::min(cost, other.quantile(kPeerQuantile));
      else if (no_peer.count() >= kMinSamples)
        cost = std::min(cost, no_peer.quantile(kFileQuantile));
    }
    if (syscalls) cost = std::min(cost, a.time_ns / static_cast<double>(syscalls));
    a.cost_ns = cost;
    a.wait_ns = std::max(0.0, a.time_ns - cost * static_cast<double>(syscalls));
  }
}

} // namespace valley::advisor
