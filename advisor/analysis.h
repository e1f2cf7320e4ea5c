// SPDX-License-Identifier: MIT
/// @file analysis.h
/// @brief What a rule asks of the event stream. The report reads each process's events once
/// (EventPass, event_pass.h); every analysis a rule needs sees each call of that stream with
/// the state it keeps per fd, and turns what it saw into per-site facts the rule reads. A rule
/// names the analyses it needs (rules/rule.h); each runs once per report however many rules
/// need it.
#pragma once

#include "report_model.h"
#include "trace_model.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace valley::advisor {

/// The process whose events follow.
struct ProcessContext {
  const Trace& trace;
  const TraceModel& model;
  double ns_per_tick;
};

/// One program call of the stream.
struct Call {
  const EventRecord& e;
  SiteAgg* site;      ///< null when the call has no counter row (no call site)
  double gap_ns;      ///< since the previous call on the fd; 0 for the fd's first
  double duration_ns; ///< time inside the real call (0 for calls the coalescer absorbed)
  /// The call made a syscall: not absorbed by the coalescer.
  bool syscall() const { return !(e.flags & kEventCoalesced); }
};

/// The ticks of the calls of a run record: call k (0 <= k <= last) began at first + span * k /
/// last, as for_each_call() has it.
struct Spread {
  uint64_t first, span, last;
  uint64_t at(uint64_t k) const {
    return first + static_cast<uint64_t>(static_cast<unsigned __int128>(span) * k / last);
  }
};

/// What an analysis keeps about one fd. The pass owns it and retires it when the fd is reused
/// for another kind, has been idle longest past EventPass::kMaxFds, or its process ends.
struct FdData {
  virtual ~FdData() = default;
};

class Analysis {
public:
  virtual ~Analysis() = default;
  virtual void begin_process(const ProcessContext&) {}
  /// One call on `fd`, whose state this analysis keeps in `data` (null until it makes one).
  virtual void call(const Call& c, std::unique_ptr<FdData>& data) = 0;
  /// Calls 1..t.last of a run record (identical absorbed writes to a stream, kEventRun); call 0
  /// went through call() just before. Work must not grow with the number of calls.
  virtual void run(const Call& first, const Spread& t, std::unique_ptr<FdData>& data) {
    (void)first, (void)t, (void)data;
  }
  /// The fd's state ends, as at the end of the trace.
  virtual void retire(FdData& data) { (void)data; }
  virtual void end_process() {}
  /// After every process: `m.sites` is complete (and sorted).
  virtual void finish(RunModel& m) { (void)m; }
};

/// How a rule names an analysis it needs.
struct AnalysisDef {
  const char* name;
  std::unique_ptr<Analysis> (*make)(const AdvisorSettings& s);
};

/// The analysis of type T the model ran, or null (a model built without it).
template <class T> const T* find_analysis(const RunModel& m) {
  for (const auto& a : m.analyses)
    if (const T* t = dynamic_cast<const T*>(a.get())) return t;
  return nullptr;
}
template <class T> T* find_analysis(RunModel& m) {
  for (auto& a : m.analyses)
    if (T* t = dynamic_cast<T*>(a.get())) return t;
  return nullptr;
}

/// Per-site results an analysis keeps, indexed by SiteAgg::id (stable: the model sorts its
/// sites after the events were read).
template <class T> class PerSite {
public:
  T& at(const SiteAgg& a) {
    if (a.id >= v_.size()) v_.resize(a.id + 1);
    return v_[a.id];
  }
  const T* find(const SiteAgg& a) const { return a.id < v_.size() ? &v_[a.id] : nullptr; }
  T& operator[](size_t id) {
    if (id >= v_.size()) v_.resize(id + 1);
    return v_[id];
  }
  size_t size() const { return v_.size(); }

private:
  std::vector<T> v_;
};

} // namespace valley::advisor
