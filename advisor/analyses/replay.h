// SPDX-License-Identifier: MIT
/// @file replay.h
/// @brief The what-if replay: each site's calls as they would be with a write buffer and a
/// buffered reader of each size the settings list, flushed where the shim's coalescer flushes.
#pragma once

#include "analysis.h"

#include <array>

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

/// Why a replayed buffer was written out (CoalescerReplay's account, per site).
enum class ReplayFlush : uint8_t { full_or_age, other_fd, read, fd_call, end, count };

/// Writes: per fd one buffer per size (what a program changed to buffer its writes has),
/// flushed when the next write would overflow it, before any read, sync or copy on the fd,
/// when its oldest byte reaches the age bound (at that moment, as the coalescer's flusher
/// does), and at the end. Reads: a buffered reader refilled with one read of the buffer size
/// when it runs dry, after a write to the fd (a reply may depend on it), or after a short read.
/// With `coalescer`, writes go instead into one buffer per process, holding one fd's bytes at
/// a time as the shim's coalescer does, and flushed where include/valley/flush_rules.h says.
class Replay : public Analysis {
public:
  explicit Replay(const AdvisorSettings& s, bool coalescer = false);
  ~Replay() override;
  void begin_process(const ProcessContext& p) override;
  void call(const Call& c, std::unique_ptr<FdData>& data) override;
  void run(const Call& first, const Spread& t, std::unique_ptr<FdData>& data) override;
  void retire(FdData& data) override;
  void end_process() override;
  void finish(RunModel& m) override;

  /// One entry per buffer size (the settings' order).
  const std::vector<ReplayResult>& of(const SiteAgg& a) const;
  /// Coalescer mode: the site's flushes (shares of them) by cause, at the buffer size `i`.
  using Causes = std::array<double, static_cast<size_t>(ReplayFlush::count)>;
  const Causes* causes(const SiteAgg& a, size_t i) const;
  /// Sets the rows of a site: for tests of the rules.
  void set(const SiteAgg& a, std::vector<ReplayResult> rows) { rows_.at(a) = std::move(rows); }

  static const AnalysisDef def;

private:
  struct Buffer;
  struct Fd;
  std::vector<ReplayResult>& rows(size_t site);
  void flush(Buffer& buf, size_t size_index, uint64_t now, ReplayFlush why = ReplayFlush::full_or_age);
  Buffer& write_buffer(Fd& f, size_t size_index);
  /// Coalescer mode: applies flush_before_call to the process's buffer for a call on `fd`.
  void before_call(Op op, FdKind kind, int32_t fd, bool mem_device, uint64_t now);
  void flush_process(uint64_t now, ReplayFlush why);
  void hold(Fd& f, size_t site);
  void replay_run(Buffer& buf, size_t size_index, size_t site, uint32_t size, const Spread& t);

  const AdvisorSettings& s_;
  double ns_per_tick_ = 1;
  uint64_t age_ticks_ = 0; ///< the age bound in this process's ticks
  PerSite<std::vector<ReplayResult>> rows_;
  PerSite<uint64_t> held_, max_held_; ///< fds whose state holds the site, now and at most
  const bool coalescer_;
  std::vector<Buffer> buf_;           ///< coalescer mode: the process's buffer, per size
  int32_t buf_fd_ = -1;               ///< the fd whose bytes buf_ holds
  PerSite<std::vector<Causes>> causes_;
  PerSite<uint8_t> mem_device_; ///< coalescer mode: whether the site's fd is a memory device
};

/// What `valley run --config` will do: the replay in coalescer mode. A separate analysis (not a
/// Replay) so that find_analysis<Replay> keeps finding the program-change replay.
class CoalescerReplay : public Analysis {
public:
  explicit CoalescerReplay(const AdvisorSettings& s) : r_(s, true) {}
  void begin_process(const ProcessContext& p) override { r_.begin_process(p); }
  void call(const Call& c, std::unique_ptr<FdData>& data) override { r_.call(c, data); }
  void run(const Call& first, const Spread& t, std::unique_ptr<FdData>& data) override {
    r_.run(first, t, data);
  }
  void retire(FdData& data) override { r_.retire(data); }
  void end_process() override { r_.end_process(); }
  void finish(RunModel& m) override { r_.finish(m); }
  const std::vector<ReplayResult>& of(const SiteAgg& a) const { return r_.of(a); }
  const Replay::Causes* causes(const SiteAgg& a, size_t i) const { return r_.causes(a, i); }

  static const AnalysisDef def;

private:
  Replay r_;
};

} // namespace valley::advisor
