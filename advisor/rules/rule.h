// SPDX-License-Identifier: MIT
/// @file rule.h
/// @brief A rule: a pure function of one aggregated call site (and the run, with the analyses
/// it asked for) to a Finding. Each rule is one file in advisor/rules/ that defines
/// `const RuleDef rule_<file name>`; the build lists them (rule_list.inc), so adding a rule
/// touches that one file.
#pragma once

#include "analysis.h"
#include "analyses/replay.h"

#include <optional>
#include <string>
#include <vector>

namespace valley::advisor {

/// The language a call was made from, for the idiom of the change.
enum class Language { c, c_stdio, cpp, cpp_streams, python, perl, java, node, ruby, rust, go };
const char* language_name(Language l);

struct Finding {
  std::string rule;                 ///< stable id, e.g. "small-writes"
  std::string severity;             ///< "high", "medium", "low"; "note" when nothing is promised
  const SiteAgg* site = nullptr;
  std::vector<const SiteAgg*> related; ///< other sites in the pattern (the body send of a burst)
  std::string summary;              ///< one sentence
  std::string change;               ///< the change to make: API and size
  std::string idiom;                ///< the same in the program's language, when recognised
  std::vector<std::string> notes;   ///< bounds and caveats of the prediction, one sentence each
  Language language = Language::c;
  uint64_t before = 0;              ///< syscalls now
  double after = 0;                 ///< predicted syscalls
  double saved_ns = 0;              ///< CPU time inside syscalls the change removes
  double saved_wait_ns = 0;         ///< waiting the change removes (a Nagle stall, device syncs)
  /// False for a note: something worth knowing whose saving is not promised (ranked last).
  bool promise = true;
  std::optional<ReplayResult> replay; ///< the chosen buffer, when the rule buffers
  std::vector<ReplayResult> replay_rows; ///< every buffer size the replay tried
  bool coalescible = false;         ///< the shim's coalescer can do it (goes into --emit-config)
  std::string coalesce_kind;        ///< the [coalesce] kind it needs, when not the site's own
  /// The syscalls of the finding's sites under `valley run --config` (the coalescer's replay,
  /// at the chosen buffer size); unset when the rule chose no buffer.
  std::optional<double> coalescer_after;
  /// Why the coalescer would write most of these calls out one by one anyway (the replay's
  /// commonest flush cause), or "": then --emit-config leaves the sites out.
  std::string coalescer_why;

  /// What the ranking uses: wall time the change saves.
  double saved_wall_ns() const { return saved_ns + saved_wait_ns; }
};

using RuleFn = std::optional<Finding> (*)(const SiteAgg&, const RunModel&, const AdvisorSettings&);
struct RuleDef {
  const char* id;
  int precedence; ///< when several rules fit one site, the lowest one explains it
  std::vector<const AnalysisDef*> needs;
  RuleFn evaluate;
};

/// Every rule the build knows, by precedence.
const std::vector<const RuleDef*>& rule_defs();
/// The analyses those rules need, each once.
std::vector<const AnalysisDef*> rule_analyses();
/// build_run_model with the analyses every rule needs.
RunModel build_report_model(const std::string& dir, const AdvisorSettings& s);
/// The same over several run directories, with the processes `filter` lets through.
RunModel build_report_model(const std::vector<std::string>& dirs, const AdvisorSettings& s,
                            const ProcessFilter& filter);
/// Every finding of every rule: promised wall-time saving first, then the notes.
std::vector<Finding> evaluate_rules(const RunModel& m, const AdvisorSettings& s);

// Shared by the rules (rule_common.cpp).
/// The smallest replayed buffer that saves at least 90% of what the best one saves.
std::optional<ReplayResult> pick_buffer(const SiteAgg& a, const std::vector<ReplayResult>& rows);
/// Severity from the share of the site's syscalls saved and, where the run's length is known,
/// the share of it the change saves.
std::string severity_for(double saved_fraction, uint64_t saved_calls, double saved_wall_ns = 0,
                         double run_wall_ns = 0);
/// A finding for a site whose calls a buffer would absorb: before/after, saving, severity and
/// language filled from the replay; nullopt when it saves less than min_saving.
std::optional<Finding> buffered_finding(const SiteAgg& a, const RunModel& m,
                                        const AdvisorSettings& s);
Language language_of(const SiteAgg& a);
std::string size_text(uint64_t bytes); ///< "64 KiB", "512 B"

} // namespace valley::advisor
