// SPDX-License-Identifier: MIT
/// @file event_pass.cpp
/// @brief The streaming pass: per-site facts from the events, per-fd state in a bounded
/// table, and every call handed to the analyses.
#include "event_pass.h"

#include "text.h"

#include <algorithm>

namespace valley::advisor {

EventPass::EventPass(std::vector<SiteAgg>& sites, double ns_per_tick,
                     std::vector<Analysis*> analyses)
    : sites_(sites), ns_per_tick_(ns_per_tick), analyses_(std::move(analyses)) {}

EventPass::FdState& EventPass::state(int32_t fd) {
  ++clock_;
  auto it = fds_.find(fd);
  if (it == fds_.end()) {
    if (fds_.size() >= kMaxFds) {
      // Retire the half idle longest: amortized O(1) per new fd.
      std::vector<std::pair<uint64_t, int32_t>> by_use;
      by_use.reserve(fds_.size());
      for (const auto& [n, f] : fds_)
        by_use.emplace_back(f.used, n);
      auto mid = by_use.begin() + static_cast<ptrdiff_t>(by_use.size() / 2);
      std::nth_element(by_use.begin(), mid, by_use.end());
      std::sort(by_use.begin(), mid); // retire in the order they were last used
      for (auto p = by_use.begin(); p != mid; ++p) {
        retire(fds_.at(p->second));
        fds_.erase(p->second);
      }
    }
    it = fds_.try_emplace(fd).first;
  }
  it->second.used = clock_;
  if (it->second.data.empty()) it->second.data.resize(analyses_.size());
  return it->second;
}

void EventPass::retire(FdState& f) {
  for (size_t i = 0; i < f.data.size(); ++i)
    if (f.data[i]) analyses_[i]->retire(*f.data[i]);
  f.data.clear();
}

Call EventPass::call_of(const EventRecord& e, SiteAgg& a, FdState& f) {
  const double gap_ns =
      f.seen ? static_cast<double>(e.ticks - std::min(e.ticks, f.last_ticks)) * ns_per_tick_ : 0;
  a.gap_hist[bucket_of(saturate_u64(gap_ns)) & 63]++;
  f.seen = true;
  f.last_ticks = e.ticks;
  const bool syscall = !(e.flags & kEventCoalesced);
  const double duration_ns = syscall ? static_cast<double>(e.duration) * ns_per_tick_ : 0;
  if (syscall) a.durations.add(duration_ns);
  return Call{e, &a, gap_ns, duration_ns};
}

void EventPass::event(const EventRecord& e, int agg) {
  if (agg < 0) return;
  SiteAgg& a = sites_[static_cast<size_t>(agg)];
  ++a.events;
  if (e.flags & kEventCoalesced) ++a.coalesced;
  if (a.sizes.size() < kMaxSizes || a.sizes.count(e.size)) ++a.sizes[e.size];
  FdState* f = &state(e.fd);
  // The fd was closed and opened again: what was known of it ended with the close.
  const bool opened = e.op == static_cast<uint8_t>(Op::open) && e.result >= 0;
  if ((f->kind != -1 && f->kind != e.fd_kind) || (opened && f->seen)) {
    retire(*f);
    *f = FdState{};
    f = &state(e.fd);
  }
  f->kind = e.fd_kind;
  const Call c = call_of(e, a, *f);
  for (size_t i = 0; i < analyses_.size(); ++i)
    analyses_[i]->call(c, f->data[i]);
  if (e.op == static_cast<uint8_t>(Op::close) && e.result == 0) {
    retire(*f);
    fds_.erase(e.fd);
  }
}

void EventPass::run(const EventRecord& e, uint64_t calls, int agg) {
  if (agg < 0) return;
  EventRecord one = e;
  one.flags = static_cast<uint8_t>(e.flags & ~kEventRun);
  one.offset = -1;
  one.duration = 0;
  SiteAgg& a = sites_[static_cast<size_t>(agg)];
  const uint64_t last_ticks = std::max<uint64_t>(e.ticks, static_cast<uint64_t>(e.offset));
  if (calls < 2) {
    event(one, agg);
    return;
  }
  if (!a.output || a.positional || datagram_kind(a.kind) || a.mmsg) {
    // Not a run the shim writes (the reader skips those): call by call, at most 2^32 - 1.
    EventRecord whole = e;
    whole.duration = static_cast<uint32_t>(std::min<uint64_t>(calls, UINT32_MAX));
    for_each_call(whole, [&](const EventRecord& c) { event(c, agg); });
    return;
  }
  const Spread t{e.ticks, last_ticks - e.ticks, calls - 1};
  event(one, agg); // call 0: the fd's state, a gap from the call before
  const uint64_t more = t.last;
  a.events += more;
  if (e.flags & kEventCoalesced) a.coalesced += more;
  if (auto it = a.sizes.find(e.size); it != a.sizes.end()) it->second += more;
  // The gaps between the calls are span / last ticks, rounded down or up.
  const uint64_t q = t.span / t.last, longer = t.span % t.last;
  a.gap_hist[bucket_of(saturate_u64(static_cast<double>(q) * ns_per_tick_)) & 63] += more - longer;
  if (longer)
    a.gap_hist[bucket_of(saturate_u64(static_cast<double>(q + 1) * ns_per_tick_)) & 63] += longer;
  FdState& f = fds_.at(e.fd); // event() made it
  f.last_ticks = last_ticks;
  const Call c{one, &a, 0, 0};
  for (size_t i = 0; i < analyses_.size(); ++i)
    analyses_[i]->run(c, t, f.data[i]);
}

void EventPass::finish() {
  std::vector<int32_t> order;
  order.reserve(fds_.size());
  for (const auto& [fd, f] : fds_)
    order.push_back(fd);
  std::sort(order.begin(), order.end()); // flushes add up in the same order every time
  for (int32_t fd : order)
    retire(fds_.at(fd));
  fds_.clear();
  for (Analysis* an : analyses_)
    an->end_process();
}

} // namespace valley::advisor
