// SPDX-License-Identifier: MIT
/// @file bursts.cpp
/// @brief Write bursts ended by a read of the same fd.
#include "analyses/bursts.h"

#include <algorithm>

namespace valley::advisor {

namespace {
std::unique_ptr<Analysis> make(const AdvisorSettings& s) { return std::make_unique<Bursts>(s); }
} // namespace

const AnalysisDef Bursts::def{"bursts", make};

struct Bursts::Fd : FdData {
  std::vector<size_t> burst; ///< site ids of the writes since the last read
};

const BurstFacts& Bursts::of(const SiteAgg& a) const {
  static const BurstFacts none;
  const BurstFacts* f = facts_.find(a);
  return f ? *f : none;
}

void Bursts::end(Fd& f, bool by_read) {
  if (by_read && f.burst.size() >= 2 && f.burst.size() <= s_.gather_max_burst) {
    const size_t first = f.burst.front();
    facts_[*std::max_element(f.burst.begin(), f.burst.end())]; // no growth below: `head` stays
    BurstFacts& head = facts_[first];
    ++head.bursts;
    head.burst_calls += f.burst.size();
    for (size_t site : f.burst) {
      ++facts_[site].calls;
      if (site != first) ++facts_[first].partners[site];
    }
  }
  f.burst.clear();
}

void Bursts::retire(FdData& data) { end(static_cast<Fd&>(data), false); }

void Bursts::call(const Call& c, std::unique_ptr<FdData>& data) {
  if (!c.site || datagram_kind(c.site->kind) || !op_moves_data(static_cast<Op>(c.e.op))) return;
  if (!data) data = std::make_unique<Fd>();
  Fd& f = static_cast<Fd&>(*data);
  if (!c.site->output) {
    end(f, true);
    return;
  }
  if (f.burst.size() <= s_.gather_max_burst) f.burst.push_back(c.site->id);
}

void Bursts::run(const Call& first, const Spread& t, std::unique_ptr<FdData>& data) {
  if (!first.site || !data) return;
  Fd& f = static_cast<Fd&>(*data);
  if (f.burst.size() <= s_.gather_max_burst)
    f.burst.insert(f.burst.end(),
                   std::min<uint64_t>(t.last, s_.gather_max_burst + 1 - f.burst.size()),
                   first.site->id);
}

} // namespace valley::advisor
