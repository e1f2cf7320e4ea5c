// SPDX-License-Identifier: MIT
/// @file report.h
/// @brief `valley report` outputs: text for a terminal, JSON (schema: advisor/report-json.md)
/// and the valley.toml that turns the coalescer on where the replay says it pays.
#pragma once

#include "rules/rule.h"

#include <cstdio>
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
/// The [coalesce] table for the findings the shim can act on, in the subset its parser reads.
std::string coalesce_config(const std::vector<Finding>& findings, const AdvisorSettings& s);

/// Per call site, run `a` (before) next to run `b` (after): calls, syscalls, time.
void render_compare(std::FILE* out, const RunModel& a, const RunModel& b, bool json);

/// Blind spots of the run, one sentence each.
std::vector<std::string> blind_spots(const RunModel& m);

} // namespace valley::advisor
