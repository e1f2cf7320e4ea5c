// SPDX-License-Identifier: MIT
/// @file report_timeline.cpp
/// @brief Binning the calls of each process over its own time axis. A process's bins start at
/// its start tick, as wide as its recorded length / kBins; a call past the last bin (a process
/// killed after its last drain) doubles every bin of the process instead of growing them.
#include "report_timeline.h"

#include <algorithm>
#include <cmath>

namespace valley::advisor {

namespace {
std::unique_ptr<Analysis> make(const AdvisorSettings&) {
  return std::make_unique<TimelineAnalysis>();
}

// CLOCK_MONOTONIC of a tick: one axis for every process of a run on one machine.
double mono_ns(const SegmentHeader& h, double ns_per_tick, uint64_t ticks) {
  const double delta = ticks >= h.calib_ticks0 ? static_cast<double>(ticks - h.calib_ticks0)
                                               : -static_cast<double>(h.calib_ticks0 - ticks);
  return static_cast<double>(h.calib_ns0) + delta * ns_per_tick;
}
} // namespace

const AnalysisDef kTimelineAnalysis{"timeline", make};

void TimelineSeries::add(size_t bin, uint64_t n, double t) {
  if (bins.empty()) bins.resize(TimelineAnalysis::kBins);
  bins[bin].calls += n;
  bins[bin].ns += t;
  calls += n;
  ns += t;
}

void TimelineSeries::halve() {
  if (bins.empty()) return;
  for (size_t i = 0; i < bins.size(); ++i) {
    TimelineCell c = i * 2 < bins.size() ? bins[i * 2] : TimelineCell{};
    if (i * 2 + 1 < bins.size()) c.calls += bins[i * 2 + 1].calls, c.ns += bins[i * 2 + 1].ns;
    bins[i] = c;
  }
}

void TimelineAnalysis::begin_process(const ProcessContext& ctx) {
  ctx_ = &ctx;
  const SegmentHeader& h = ctx.trace.header;
  origin_ticks_ = h.start_ticks;
  const uint64_t span = h.end_ticks > h.start_ticks ? h.end_ticks - h.start_ticks : 1;
  // One tick more than the span fits: a call at end_ticks lands in the last bin.
  bin_ticks_ = std::max(1.0, std::ceil(static_cast<double>(span + 1) / kBins));
  ProcessTimeline p;
  p.trace = ctx.trace.name;
  p.pid = ctx.trace.pid;
  p.start_ns = mono_ns(h, ctx.ns_per_tick, h.start_ticks);
  p.bin_ns = bin_ticks_ * ctx.ns_per_tick;
  procs_.push_back(std::move(p));
}

size_t TimelineAnalysis::bin_of(uint64_t ticks) {
  ProcessTimeline& p = procs_.back();
  const double rel = ticks > origin_ticks_ ? static_cast<double>(ticks - origin_ticks_) : 0;
  // A damaged tick far in the future would double the bins ~60 times and flatten the plot;
  // past 2^20 times the recorded span it is clamped to the last bin instead.
  for (int doublings = 0; rel / bin_ticks_ >= kBins && doublings < 20; ++doublings) {
    bin_ticks_ *= 2;
    p.bin_ns *= 2;
    p.all.halve();
    for (auto& [id, s] : p.sites)
      s.halve();
    auto halve_track = [](TimelineTrack& t) {
      t.all.halve();
      for (auto& [id, s] : t.sites)
        s.halve();
    };
    halve_track(p.other);
    for (TimelineTrack& t : p.tracks)
      halve_track(t);
    p.used = (p.used + 1) / 2;
  }
  const size_t bin = std::min<size_t>(kBins - 1, static_cast<size_t>(rel / bin_ticks_));
  p.used = std::max(p.used, bin + 1);
  return bin;
}

namespace {
// The fd's track while the event pass keeps the fd's state: it ends with a close, a reopen or
// a change of kind, which may give the fd another FileRow.
struct FdTrack : FdData {
  uint32_t tid = 0;
  size_t track = 0;
};
} // namespace

size_t TimelineAnalysis::track(const EventRecord& e, std::unique_ptr<FdData>& data) {
  auto* known = static_cast<FdTrack*>(data.get());
  if (known && known->tid == e.tid) return known->track;
  ProcessTimeline& p = procs_.back();
  const uint32_t id = ctx_->model.file_at(e.fd, e.ticks);
  size_t found = kOther;
  for (size_t i = 0; i < p.tracks.size() && found == kOther; ++i) {
    const TimelineTrack& t = p.tracks[i];
    if (t.tid == e.tid && t.fd == e.fd && t.kind == e.fd_kind && t.file == id) found = i;
  }
  if (found == kOther && p.tracks.size() < kMaxTracks) {
    TimelineTrack t;
    t.tid = e.tid;
    t.fd = e.fd;
    t.kind = e.fd_kind;
    t.file = id;
    if (id >= 1 && id <= ctx_->trace.files.size())
      t.path = std::string(fixed_string(ctx_->trace.files[id - 1].path));
    found = p.tracks.size();
    p.tracks.push_back(std::move(t));
  }
  if (!known) data = std::make_unique<FdTrack>();
  auto* f = static_cast<FdTrack*>(data.get());
  f->tid = e.tid;
  f->track = found;
  return found;
}

void TimelineAnalysis::add(const EventRecord& e, const SiteAgg* site, size_t bin, uint64_t n,
                           double ns, std::unique_ptr<FdData>& data) {
  ProcessTimeline& p = procs_.back();
  p.all.add(bin, n, ns);
  const size_t ti = track(e, data);
  TimelineTrack& t = ti == kOther ? p.other : p.tracks[ti];
  t.all.add(bin, n, ns);
  if (!site) return;
  p.sites[site->id].add(bin, n, ns);
  auto it = t.sites.find(site->id);
  if (it == t.sites.end() && t.sites.size() < kMaxSitesPerTrack)
    it = t.sites.try_emplace(site->id).first;
  if (it != t.sites.end()) it->second.add(bin, n, ns);
}

void TimelineAnalysis::call(const Call& c, std::unique_ptr<FdData>& data) {
  add(c.e, c.site, bin_of(c.e.ticks), 1, c.duration_ns, data);
}

void TimelineAnalysis::run(const Call& first, const Spread& t, std::unique_ptr<FdData>& data) {
  // Calls 1..last spread evenly over [first, first + span]: each bin gets its share, in work
  // that grows with bins, not calls.
  const size_t b1 = bin_of(t.at(t.last)); // first: it may widen the bins
  const size_t b0 = bin_of(t.at(1));
  if (b0 == b1) {
    add(first.e, first.site, b0, t.last, 0, data);
    return;
  }
  uint64_t given = 0;
  for (size_t b = b0; b <= b1; ++b) {
    const uint64_t upto = b == b1 ? t.last : t.last * (b - b0 + 1) / (b1 - b0 + 1);
    if (upto > given) add(first.e, first.site, b, upto - given, 0, data);
    given = std::max(given, upto);
  }
}

void RunSeries::add(size_t key, double at_ns, uint64_t n, double ns, double min_width) {
  if (!(width_ > 0)) width_ = std::max(1.0, min_width);
  Span& s = spans_[key];
  for (;;) {
    const auto idx = static_cast<int64_t>(std::floor(std::max(0.0, at_ns) / width_));
    if (s.cells.empty()) {
      s.first = idx;
      s.cells.resize(1);
    }
    const int64_t lo = std::min(s.first, idx);
    const int64_t hi = std::max(s.first + static_cast<int64_t>(s.cells.size()) - 1, idx);
    if (hi - lo + 1 > static_cast<int64_t>(TimelineAnalysis::kBins)) {
      widen();
      continue;
    }
    if (lo < s.first) {
      s.cells.insert(s.cells.begin(), static_cast<size_t>(s.first - lo), TimelineCell{});
      s.first = lo;
    }
    if (static_cast<size_t>(hi - s.first + 1) > s.cells.size())
      s.cells.resize(static_cast<size_t>(hi - s.first + 1));
    TimelineCell& c = s.cells[static_cast<size_t>(idx - s.first)];
    c.calls += n;
    c.ns += ns;
    s.calls += n;
    return;
  }
}

void RunSeries::widen() {
  width_ *= 2;
  for (auto& [key, s] : spans_) {
    if (s.cells.empty()) continue;
    const int64_t first = s.first / 2,
                  last = (s.first + static_cast<int64_t>(s.cells.size()) - 1) / 2;
    std::vector<TimelineCell> cells(static_cast<size_t>(last - first + 1));
    for (size_t i = 0; i < s.cells.size(); ++i) {
      TimelineCell& c = cells[static_cast<size_t>((s.first + static_cast<int64_t>(i)) / 2 - first)];
      c.calls += s.cells[i].calls;
      c.ns += s.cells[i].ns;
    }
    s.first = first;
    s.cells = std::move(cells);
  }
}

const RunSeries::Span* RunSeries::find(size_t key) const {
  auto it = spans_.find(key);
  return it == spans_.end() ? nullptr : &it->second;
}

void TimelineAnalysis::end_process() {
  // The process's per-site bins go onto the run's grid: they cost memory per site, not per
  // site and process.
  ProcessTimeline& cur = procs_.back();
  auto fold = [&](size_t key, const TimelineSeries& s) {
    for (size_t i = 0; i < s.bins.size(); ++i)
      if (s.bins[i].calls)
        run_.add(key, cur.start_ns + (static_cast<double>(i) + 0.5) * cur.bin_ns, s.bins[i].calls,
                 s.bins[i].ns, cur.bin_ns);
  };
  fold(kAllCalls, cur.all);
  for (const auto& [id, s] : cur.sites)
    fold(id, s);
  cur.sites.clear();
  // Past kMaxDetailed processes, only the busiest keep their per-thread and per-fd tracks.
  size_t detailed = 0;
  for (const ProcessTimeline& p : procs_)
    detailed += !p.tracks.empty();
  if (detailed <= kMaxDetailed) return;
  ProcessTimeline* least = nullptr;
  for (ProcessTimeline& p : procs_)
    if (!p.tracks.empty() && (!least || p.all.calls < least->all.calls)) least = &p;
  least->tracks.clear();
  least->tracks.shrink_to_fit();
  least->other = TimelineTrack{};
  least->all.bins.clear(); // its totals stay; its bins are in the run's series
  least->all.bins.shrink_to_fit();
}

std::vector<TimelineCell> rebin(const TimelineSeries& s, const ProcessTimeline& p, double t0,
                                double width, size_t bins) {
  std::vector<TimelineCell> out(bins);
  if (bins == 0 || !(width > 0)) return out;
  for (size_t i = 0; i < s.bins.size(); ++i) {
    const TimelineCell& c = s.bins[i];
    if (!c.calls && c.ns == 0) continue;
    const double mid = p.start_ns + (static_cast<double>(i) + 0.5) * p.bin_ns;
    const double at = std::floor((mid - t0) / width);
    const size_t b = at <= 0 ? 0 : std::min(bins - 1, static_cast<size_t>(at));
    out[b].calls += c.calls;
    out[b].ns += c.ns;
  }
  return out;
}

std::vector<TimelineCell> rebin(const RunSeries::Span& s, double grid_width, double t0,
                                double width, size_t bins) {
  std::vector<TimelineCell> out(bins);
  if (bins == 0 || !(width > 0)) return out;
  for (size_t i = 0; i < s.cells.size(); ++i) {
    const TimelineCell& c = s.cells[i];
    if (!c.calls && c.ns == 0) continue;
    const double mid = (static_cast<double>(s.first + static_cast<int64_t>(i)) + 0.5) * grid_width;
    const double at = std::floor((mid - t0) / width);
    const size_t b = at <= 0 ? 0 : std::min(bins - 1, static_cast<size_t>(at));
    out[b].calls += c.calls;
    out[b].ns += c.ns;
  }
  return out;
}

} // namespace valley::advisor
