// SPDX-License-Identifier: MIT
/// @file report_html.h
/// @brief `valley report --format html`: one self-contained page (inline CSS, SVG and a little
/// script, nothing fetched) with the findings, their size and gap histograms, a timeline of the
/// run's calls and its coverage; and the same for `--compare`.
#pragma once

#include "html_svg.h"
#include "report.h"
#include "report_timeline.h"

#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace valley::advisor {

/// `timeline`: the model's TimelineAnalysis, or null (the page then says it has no timeline).
void render_html(std::FILE* out, const RunModel& m, const std::vector<Finding>& findings,
                 const TimelineAnalysis* timeline);

void render_compare_html(std::FILE* out, const RunModel& a, const RunModel& b,
                         const std::map<std::string, double>& predicted);

/// The bars of a site's request-size histogram (counters: exact) and gap histogram (events),
/// from the lowest non-empty bucket to the highest.
std::vector<Bar> size_bars(const SiteAgg& a);
std::vector<Bar> gap_bars(const SiteAgg& a);

} // namespace valley::advisor
