// SPDX-License-Identifier: MIT
/// @file rule_engine.cpp
/// @brief The rules the build found in advisor/rules/, and running them over a run.
#include "rules/rule.h"

#include "analyses/replay.h"

#include <fmt/format.h>

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
  // The coalescer's replay checks every coalescible finding (see coalescer_check).
  std::vector<const AnalysisDef*> out{&CoalescerReplay::def};
  for (const RuleDef* r : rule_defs())
    for (const AnalysisDef* a : r->needs)
      if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  return out;
}

RunModel build_report_model(const std::string& dir, const AdvisorSettings& s) {
  return build_run_model(dir, s, rule_analyses());
}

RunModel build_report_model(const std::vector<std::string>& dirs, const AdvisorSettings& s,
                            const ProcessFilter& filter) {
  return build_run_model(dirs, s, rule_analyses(), filter);
}

namespace {

// What `valley run --config` would make of a coalescible finding: the coalescer's replay at the
// buffer size the rule chose, over the finding's sites. When the coalescer would still write
// more than half of the calls out one by one, the config cannot deliver the finding's saving,
// and the commonest flush cause says why.
void coalescer_check(Finding& f, const RunModel& m, const AdvisorSettings& s) {
  const CoalescerReplay* cr = find_analysis<CoalescerReplay>(m);
  if (!cr || !f.coalescible || s.buffer_sizes.empty()) return;
  // A rule that chose no buffer (a gather) gets the coalescer's default size, or the largest
  // replayed one.
  const uint64_t size =
      f.replay ? f.replay->buffer_size : settings::default_count(settings::Id::coalesce_size);
  size_t i = 0;
  while (i < s.buffer_sizes.size() && s.buffer_sizes[i] != size) ++i;
  if (i == s.buffer_sizes.size()) {
    if (f.replay) return;
    i = s.buffer_sizes.size() - 1;
  }
  std::vector<const SiteAgg*> members{f.site};
  members.insert(members.end(), f.related.begin(), f.related.end());
  double after = 0;
  uint64_t calls = 0;
  Replay::Causes causes{};
  for (const SiteAgg* a : members) {
    const std::vector<ReplayResult>& rows = cr->of(*a);
    after += i < rows.size() ? rows[i].syscalls_after : static_cast<double>(a->calls);
    calls += a->calls;
    if (const Replay::Causes* c = cr->causes(*a, i))
      for (size_t k = 0; k < c->size(); ++k) causes[k] += (*c)[k];
  }
  f.coalescer_after = after;
  if (after <= 0.5 * static_cast<double>(calls)) return;
  static constexpr const char* kWhy[] = {
      "they fill the buffer or wait past the age bound",
      "the program writes another fd between them (the coalescer holds one fd's bytes at a time)",
      "the program reads between them, and the coalescer writes its buffer out before a read",
      "a sync, copy, open, close or unlink comes between them",
      "the process ends after each"};
  size_t top = 0;
  for (size_t k = 1; k < causes.size(); ++k)
    if (causes[k] > causes[top]) top = k;
  f.coalescer_why = fmt::format(
      "valley's coalescer would still make {:.0f} of these {} syscalls: {}; change the program "
      "instead",
      after, calls, kWhy[top]);
}

} // namespace

std::vector<Finding> evaluate_rules(const RunModel& m, const AdvisorSettings& s) {
  std::vector<Finding> out;
  for (const SiteAgg& a : m.sites)
    for (const RuleDef* r : rule_defs())
      if (std::optional<Finding> f = r->evaluate(a, m, s)) {
        f->rule = r->id;
        coalescer_check(*f, m, s);
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
