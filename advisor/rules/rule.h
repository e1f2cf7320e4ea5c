// SPDX-License-Identifier: MIT
/// @file rule.h
/// @brief A rule: a pure function of one aggregated call site (and the run) to a Finding.
#pragma once

#include "report_model.h"

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace valley::advisor {

enum class Language { c, c_stdio, cpp_streams, python, rust, go };
const char* language_name(Language l);

struct Finding {
  std::string rule;                 ///< stable id, e.g. "small-writes"
  std::string severity;             ///< "high", "medium", "low"
  const SiteAgg* site = nullptr;
  std::vector<const SiteAgg*> related; ///< other sites in the pattern (write-gather partners)
  std::string summary;              ///< one sentence
  std::string change;               ///< the change to make: API and size
  std::string idiom;                ///< the same in the program's language, when recognised
  Language language = Language::c;
  uint64_t before = 0;              ///< syscalls now
  double after = 0;                 ///< predicted syscalls
  double saved_ns = 0;
  std::optional<ReplayResult> replay; ///< the chosen buffer, when the rule buffers
  bool coalescible = false;         ///< the shim's coalescer can do it (goes into --emit-config)
};

using RuleFn = std::optional<Finding> (*)(const SiteAgg&, const RunModel&, const AdvisorSettings&);
struct Rule {
  const char* id;
  RuleFn evaluate;
};

/// Every finding of every rule, best saving first.
std::vector<Finding> evaluate_rules(const RunModel& m, const AdvisorSettings& s);

// Shared by the rules (rules/common.cpp).
bool stream_kind(uint8_t kind);
bool datagram_kind(uint8_t kind);
/// The smallest replayed buffer that saves at least 90% of what the best one saves.
std::optional<ReplayResult> pick_buffer(const SiteAgg& a);
std::string severity_for(double saved_fraction, uint64_t saved_calls);
/// A finding for a site whose calls a buffer would absorb: before/after, saving, severity and
/// language filled from pick_buffer's replay; nullopt when it saves less than min_saving.
std::optional<Finding> buffered_finding(const SiteAgg& a, const AdvisorSettings& s);
Language language_of(const SiteAgg& a);
std::string size_text(uint64_t bytes); ///< "64 KiB", "512 B"

std::optional<Finding> small_writes(const SiteAgg&, const RunModel&, const AdvisorSettings&);
std::optional<Finding> write_gather(const SiteAgg&, const RunModel&, const AdvisorSettings&);
std::optional<Finding> small_reads(const SiteAgg&, const RunModel&, const AdvisorSettings&);
std::optional<Finding> sequential_pread(const SiteAgg&, const RunModel&, const AdvisorSettings&);
std::optional<Finding> datagram_batch(const SiteAgg&, const RunModel&, const AdvisorSettings&);

} // namespace valley::advisor
