// SPDX-License-Identifier: MIT
/// @file replay.h
/// @brief The what-if replay: each site's calls as they would be with a write buffer and a
/// buffered reader of each size the settings list, flushed where the shim's coalescer flushes.
#pragma once

#include "analysis.h"

namespace valley::advisor {

/// The replay of one buffer size for one site.
struct ReplayResult {
  uint64_t buffer_size = 0;
  double syscalls_after = 0; ///< predicted syscalls of this site with the buffer (a flush
                             ///< carrying several sites' calls is shared among them)
  double saved_ns = 0;       ///< CPU time inside the syscalls saved (at the site's cost)
  double max_delay_ns = 0;   ///< the longest a byte waited in the buffer
  uint64_t max_fds = 0;      ///< fds whose buffer the site held at once (each fd from the
                             ///< site's first write or read on it until the fd is closed,
  ///< reused for another kind, or retired): memory = max_fds * buffer_size
};

/// Writes: per fd one buffer per size, flushed when the next write would overflow it, before
/// any read, sync or copy on the fd, when its oldest byte reaches the age bound (at that
/// moment, as the coalescer's flusher does), and at the end. Reads: a buffered reader refilled
/// with one read of the buffer size when it runs dry, after a write to the fd (a reply may
/// depend on it), or after a short read.
class Replay : public Analysis {
public:
  explicit Replay(const AdvisorSettings& s);
  void begin_process(const ProcessContext& p) override;
  void call(const Call& c, std::unique_ptr<FdData>& data) override;
  void run(const Call& first, const Spread& t, std::unique_ptr<FdData>& data) override;
  void retire(FdData& data) override;
  void end_process() override;
  void finish(RunModel& m) override;

  /// One entry per buffer size (the settings' order).
  const std::vector<ReplayResult>& of(const SiteAgg& a) const;
  /// Sets the rows of a site: for tests of the rules.
  void set(const SiteAgg& a, std::vector<ReplayResult> rows) { rows_.at(a) = std::move(rows); }

  static const AnalysisDef def;

private:
  struct Buffer;
  struct Fd;
  std::vector<ReplayResult>& rows(size_t site);
  void flush(Buffer& buf, size_t size_index, uint64_t now);
  void hold(Fd& f, size_t site);
  void replay_run(Buffer& buf, size_t size_index, size_t site, uint32_t size, const Spread& t);

  const AdvisorSettings& s_;
  double ns_per_tick_ = 1;
  uint64_t age_ticks_ = 0; ///< the age bound in this process's ticks
  PerSite<std::vector<ReplayResult>> rows_;
  PerSite<uint64_t> held_, max_held_; ///< fds whose state holds the site, now and at most
};

} // namespace valley::advisor
