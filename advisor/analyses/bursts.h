// SPDX-License-Identifier: MIT
/// @file bursts.h
/// @brief Write bursts ended by a read: a few writes to one stream fd (a header and a body) go
/// out back to back before the program reads that fd (the answer).
#pragma once

#include "analysis.h"

#include <map>

namespace valley::advisor {

struct BurstFacts {
  uint64_t calls = 0;                  ///< calls in a short write burst ended by a read on the fd
  uint64_t bursts = 0;                 ///< such bursts this site started
  uint64_t burst_calls = 0;            ///< calls in the bursts this site started
  std::map<size_t, uint64_t> partners; ///< other sites (by id) in those bursts, by calls
};

/// A burst is 2 to `gather_max_burst` writes on one stream fd with no read of it between;
/// it counts when a read of that fd ends it (not the end of the trace).
class Bursts : public Analysis {
public:
  explicit Bursts(const AdvisorSettings& s) : s_(s) {}
  void call(const Call& c, std::unique_ptr<FdData>& data) override;
  void run(const Call& first, const Spread& t, std::unique_ptr<FdData>& data) override;
  void retire(FdData& data) override;

  /// Empty facts for a site no burst touched.
  const BurstFacts& of(const SiteAgg& a) const;
  BurstFacts& at(const SiteAgg& a) { return facts_.at(a); } ///< for tests of the rules

  static const AnalysisDef def;

private:
  struct Fd;
  void end(Fd& f, bool by_read);
  const AdvisorSettings& s_;
  PerSite<BurstFacts> facts_;
};

} // namespace valley::advisor
