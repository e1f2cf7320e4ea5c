// SPDX-License-Identifier: MIT
/// @file event_pass.h
/// @brief One streaming pass over a process's events: the facts every site gets (calls seen,
/// sizes, gaps, durations) and each analysis's view of every call with its per-fd state.
/// Memory grows with call sites and open fds, never with events.
#pragma once

#include "analysis.h"

#include <unordered_map>

namespace valley::advisor {

class EventPass {
public:
  /// Events are fed with the index of their SiteAgg in `sites` (-1: none).
  EventPass(std::vector<SiteAgg>& sites, double ns_per_tick, std::vector<Analysis*> analyses);
  void event(const EventRecord& e, int agg);
  /// A run record (kEventRun) taken as `calls` identical calls evenly spread from its first
  /// to its last tick, with the result for_each_call's expansion would give, in work that
  /// does not grow with `calls`. For the runs the reader lets through (absorbed writes to a
  /// stream, see event_reader.cpp); anything else is expanded call by call.
  void run(const EventRecord& e, uint64_t calls, int agg);
  void finish();

  /// Per-fd state is kept for at most this many fds: past it, the half idle longest is
  /// retired as at the end of the trace (bursts end, replayed buffers flush at their last
  /// call), so memory does not grow with distinct fd numbers. Below it the results are exact;
  /// a retired fd seen again starts afresh (its next gap counts as a first call).
  static constexpr size_t kMaxFds = 16384;
  size_t tracked_fds() const { return fds_.size(); }

private:
  struct FdState {
    uint64_t last_ticks = 0;
    bool seen = false;
    int kind = -1;     ///< fd kind of the latest event: a change means the fd was reused
    uint64_t used = 0; ///< when the fd was last seen, in events of this pass
    std::vector<std::unique_ptr<FdData>> data; ///< per analysis
  };
  FdState& state(int32_t fd);
  void retire(FdState& f);
  Call call_of(const EventRecord& e, SiteAgg& a, FdState& f);

  std::vector<SiteAgg>& sites_;
  double ns_per_tick_;
  std::vector<Analysis*> analyses_;
  std::unordered_map<int32_t, FdState> fds_;
  uint64_t clock_ = 0;
};

} // namespace valley::advisor
