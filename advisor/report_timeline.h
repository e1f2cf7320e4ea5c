// SPDX-License-Identifier: MIT
/// @file report_timeline.h
/// @brief What the HTML report plots over time: per process, per thread and fd, and per call
/// site, the calls and the time inside syscalls in a fixed number of bins. Aggregates only
/// the memory and the page it draws do not grow with events (a 10M-event run plots as
/// many bins as a 10-event one).
#pragma once

#include "analysis.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace valley::advisor {

struct TimelineCell {
  uint64_t calls = 0;
  double ns = 0; ///< time inside syscalls of the calls that began in the bin
};

/// Bins of one process's time axis; sized on first use, so a series that never got a call
/// costs nothing.
struct TimelineSeries {
  std::vector<TimelineCell> bins;
  uint64_t calls = 0;
  double ns = 0;
  void add(size_t bin, uint64_t n, double ns);
  /// Merges bin pairs (2i, 2i+1) into i: the bins became twice as wide.
  void halve();
};

/// One thread's calls on one fd (of one kind).
struct TimelineTrack {
  uint32_t tid = 0;
  int32_t fd = -1;
  uint8_t kind = 0;
  uint32_t file = 0; ///< the FileRow that described the fd (an fd closed and reopened is two)
  std::string path;  ///< that row's path, as recorded
  TimelineSeries all;
  std::map<size_t, TimelineSeries> sites; ///< by SiteAgg::id, at most kMaxSitesPerTrack
};

struct ProcessTimeline {
  std::string trace; ///< "<pid>-<n>", as ProcessSummary::name
  uint32_t pid = 0;
  double start_ns = 0; ///< CLOCK_REALTIME of bin 0's start
  double bin_ns = 1;   ///< width of a bin
  size_t used = 0;     ///< bins [0, used) hold the process's calls
  TimelineSeries all;
  /// By SiteAgg::id, every site of the process, while it is read; end_process() moves them
  /// into the run's RunSeries.
  std::map<size_t, TimelineSeries> sites;
  /// At most kMaxTracks. Past kMaxDetailed processes, the one with the fewest calls loses its
  /// tracks and its bins (`all` keeps its totals).
  std::vector<TimelineTrack> tracks;
  TimelineTrack other; ///< the calls of the tracks past kMaxTracks
};

/// Series over the whole run on one grid: bin k covers [k * width, (k + 1) * width) ns of
/// CLOCK_MONOTONIC. The width doubles whenever a series would span more than kBins bins, so
/// each series holds at most kBins cells however many processes fed it.
class RunSeries {
public:
  struct Span {
    int64_t first = 0;
    std::vector<TimelineCell> cells; ///< bins first, first + 1, ...
    uint64_t calls = 0;
  };
  void add(size_t key, double at_ns, uint64_t n, double ns, double min_width);
  double width() const { return width_; }
  const Span* find(size_t key) const;

private:
  void widen();
  double width_ = 0;
  std::map<size_t, Span> spans_;
};

class TimelineAnalysis : public Analysis {
public:
  static constexpr size_t kBins = 160, kMaxTracks = 24, kMaxSitesPerTrack = 8, kMaxDetailed = 12;

  void begin_process(const ProcessContext& ctx) override;
  void call(const Call& c, std::unique_ptr<FdData>& data) override;
  void run(const Call& first, const Spread& t, std::unique_ptr<FdData>& data) override;
  void end_process() override;

  /// Every process read, in trace order. Only the kMaxDetailed with the most calls keep their
  /// tracks.
  const std::vector<ProcessTimeline>& processes() const { return procs_; }
  /// Per SiteAgg::id, the site's calls over the run, from every process; kAllCalls: all calls.
  const RunSeries& run_series() const { return run_; }
  static constexpr size_t kAllCalls = SIZE_MAX;

private:
  size_t bin_of(uint64_t ticks);
  void add(const EventRecord& e, const SiteAgg* site, size_t bin, uint64_t n, double ns,
           std::unique_ptr<FdData>& data);
  /// The index in tracks of the call's track, or kOther; remembered in the fd's data, so the
  /// fd's FileRow is looked up once per fd and thread, not per call.
  size_t track(const EventRecord& e, std::unique_ptr<FdData>& data);
  static constexpr size_t kOther = SIZE_MAX;

  std::vector<ProcessTimeline> procs_;
  RunSeries run_;
  const ProcessContext* ctx_ = nullptr;
  uint64_t origin_ticks_ = 0;
  double bin_ticks_ = 1;
};

/// How the report asks the event pass for the timeline.
extern const AnalysisDef kTimelineAnalysis;

/// A series of one process laid onto the run's axis [t0, t0 + bins * width): each process bin
/// goes to the run bin that holds its middle.
std::vector<TimelineCell> rebin(const TimelineSeries& s, const ProcessTimeline& p, double t0,
                                double width, size_t bins);
/// The same for a run series.
std::vector<TimelineCell> rebin(const RunSeries::Span& s, double grid_width, double t0,
                                double width, size_t bins);

} // namespace valley::advisor
