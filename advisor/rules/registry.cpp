// SPDX-License-Identifier: MIT
/// @file registry.cpp
/// @brief The one list of rules, and running them over a run.
#include "rules/rule.h"

#include <algorithm>

namespace valley::advisor {

namespace {
const Rule kRules[] = {
    {"write-gather", write_gather},
    {"small-writes", small_writes},
    {"small-reads", small_reads},
    {"sequential-pread", sequential_pread},
    {"datagram-batch", datagram_batch},
};
} // namespace

std::vector<Finding> evaluate_rules(const RunModel& m, const AdvisorSettings& s) {
  std::vector<Finding> out;
  for (const SiteAgg& a : m.sites)
    for (const Rule& r : kRules)
      if (std::optional<Finding> f = r.evaluate(a, m, s)) {
        f->rule = r.id;
        out.push_back(std::move(*f));
        break; // one finding per site: the first rule that fits explains it best
      }
  std::stable_sort(out.begin(), out.end(), [](const Finding& x, const Finding& y) {
    double sx = static_cast<double>(x.before) - x.after, sy = static_cast<double>(y.before) - y.after;
    return sx != sy ? sx > sy : x.site->key < y.site->key;
  });
  return out;
}

} // namespace valley::advisor
