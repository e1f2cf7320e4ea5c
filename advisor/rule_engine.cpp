// SPDX-License-Identifier: MIT
/// @file rule_engine.cpp
/// @brief The rules the build found in advisor/rules/, and running them over a run.
#include "rules/rule.h"

#include <algorithm>

namespace valley::advisor {

#define VALLEY_RULE(stem) extern const RuleDef rule_##stem;
#include "rule_list.inc"
#undef VALLEY_RULE

const std::vector<const RuleDef*>& rule_defs() {
  static const std::vector<const RuleDef*> defs = [] {
    std::vector<const RuleDef*> v{
#define VALLEY_RULE(stem) &rule_##stem,
#include "rule_list.inc"
#undef VALLEY_RULE
    };
    std::stable_sort(v.begin(), v.end(), [](const RuleDef* x, const RuleDef* y) {
      return x->precedence < y->precedence;
    });
    return v;
  }();
  return defs;
}

std::vector<const AnalysisDef*> rule_analyses() {
  std::vector<const AnalysisDef*> out;
  for (const RuleDef* r : rule_defs())
    for (const AnalysisDef* a : r->needs)
      if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  return out;
}

RunModel build_report_model(const std::string& dir, const AdvisorSettings& s) {
  return build_run_model(dir, s, rule_analyses());
}

std::vector<Finding> evaluate_rules(const RunModel& m, const AdvisorSettings& s) {
  std::vector<Finding> out;
  for (const SiteAgg& a : m.sites)
    for (const RuleDef* r : rule_defs())
      if (std::optional<Finding> f = r->evaluate(a, m, s)) {
        f->rule = r->id;
        out.push_back(std::move(*f));
        break; // one finding per site: the first rule that fits explains it best
      }
  std::stable_sort(out.begin(), out.end(), [](const Finding& x, const Finding& y) {
    if (x.promise != y.promise) return x.promise;
    const double sx = x.saved_wall_ns(), sy = y.saved_wall_ns();
    return sx != sy ? sx > sy : x.site->key < y.site->key;
  });
  return out;
}

} // namespace valley::advisor
