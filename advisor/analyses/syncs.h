// SPDX-License-Identifier: MIT
/// @file syncs.h
/// @brief Syncs (fsync, fdatasync, sync_file_range, msync) and the writes they make durable:
/// how many writes each sync covers, how often a file is synced, and journal files created and
/// deleted again and again (sqlite3 without a transaction).
#pragma once

#include "analysis.h"

#include <map>

namespace valley::advisor {

/// A sync call site.
struct SyncFacts {
  uint64_t syncs = 0;
  std::map<uint64_t, uint64_t> writes_between; ///< writes to the fd since its previous sync
                                               ///< (counts above 1000 as 1000): how often
  /// The median of writes_between.
  uint64_t median_writes() const;
  DurationHist bytes_between;  ///< bytes written since its previous sync
  std::set<std::string> paths; ///< files synced (at most a few)
};

/// A write call site whose fd is synced.
struct SyncedWrites {
  uint64_t syncs = 0;       ///< syncs of its fds that came after some of its writes
  DurationHist interval_ns; ///< time between consecutive syncs of the fds it writes
};

class Syncs : public Analysis {
public:
  void begin_process(const ProcessContext& p) override;
  void call(const Call& c, std::unique_ptr<FdData>& data) override;
  void end_process() override;

  const SyncFacts* sync_site(const SiteAgg& a) const { return syncs_.find(a); }
  const SyncedWrites* writes(const SiteAgg& a) const { return writes_.find(a); }
  /// Files opened and then deleted again at least twice, by path: how many times (the
  /// commonest first, at most 8).
  std::vector<std::pair<std::string, uint64_t>> journals() const;
  SyncFacts& at(const SiteAgg& a) { return syncs_.at(a); } ///< for tests of the rules

  static bool is_sync(uint8_t op);
  static const AnalysisDef def;

private:
  struct Fd;
  const ProcessContext* p_ = nullptr;
  PerSite<SyncFacts> syncs_;
  PerSite<SyncedWrites> writes_;
  struct Cycle {
    uint64_t opens = 0, unlinks = 0;
  };
  std::map<std::string, Cycle> cycles_; ///< this process's, by path (bounded)
  std::map<std::string, uint64_t> journals_;
};

} // namespace valley::advisor
