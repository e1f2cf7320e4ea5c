// SPDX-License-Identifier: MIT
/// @file report.h
/// @brief `valley report` outputs: text for a terminal, JSON (schema: advisor/report-json.md)
/// and the valley.toml that turns the coalescer on where the replay says it pays.
#pragma once

#include "rules/rule.h"

#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace valley::advisor {

struct TextStyle {
  bool colour = false;
  size_t width = 100;
};

void render_text(std::FILE* out, const RunModel& m, const std::vector<Finding>& findings,
                 const AdvisorSettings& s, const TextStyle& style);
void render_json(std::FILE* out, const RunModel& m, const std::vector<Finding>& findings,
                 const AdvisorSettings& s);
/// What `--emit-config` writes, and what it tells the user about it.
struct EmittedConfig {
  std::string text;                  ///< the valley.toml
  std::vector<std::string> listed;   ///< one line per finding acted on: site, rule, prediction
  std::vector<std::string> left_out; ///< one line per site left out, with the reason
  size_t sites = 0;                  ///< entries of [coalesce] sites
  std::vector<std::string> kinds;
  bool stdio = false;
};
/// The [coalesce] table for the findings the shim can act on, in the subset its parser reads.
EmittedConfig emit_config(const std::vector<Finding>& findings, const AdvisorSettings& s);
inline std::string coalesce_config(const std::vector<Finding>& findings, const AdvisorSettings& s) {
  return emit_config(findings, s).text;
}

/// Per call site, run `a` (before) next to run `b` (after): calls, syscalls, time.
/// `predicted`: per site key, the syscalls run A's report predicts for the config it emits.
void render_compare(std::FILE* out, const RunModel& a, const RunModel& b, bool json,
                    const std::map<std::string, double>& predicted = {});

/// Blind spots of the run, one sentence each.
std::vector<std::string> blind_spots(const RunModel& m);

} // namespace valley::advisor
