// SPDX-License-Identifier: MIT
/// @file html_svg.h
/// @brief The pieces of the HTML report that do not know about runs: escaping text from a
/// trace for HTML, and SVG bar charts drawn from counts (static SVG: they need no script).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace valley::advisor {

/// Text from a trace for an HTML text node or a quoted attribute: made printable() first
/// (well-formed UTF-8, control characters as \xNN), then & < > " ' as character references, so
/// a path or a function name can never open a tag, close an attribute or start a script.
std::string html_text(std::string_view s);
/// & < > " ' as character references, nothing else (for text that is already printable()).
std::string html_escape(std::string_view s);
/// html_text() of at most the last `max_bytes` of `s` (before escaping), "..." in front when
/// cut: a long path keeps its file name, and no character reference is cut in two.
std::string html_tail(std::string_view s, size_t max_bytes);

struct Bar {
  std::string label; ///< under the bar (already plain text; escaped by the chart)
  uint64_t value = 0;
  std::string tip; ///< the bar's tooltip (<title>); escaped by the chart
};

/// A vertical bar chart: one bar per entry, its value written above it (so no bar is told by
/// colour alone), labels below. `aria` names the chart for screen readers.
std::string svg_bar_chart(const std::vector<Bar>& bars, const std::string& aria,
                          const std::string& css_class = "bar");

/// The SVG <defs> the charts' patterns come from (#hatch, #hatch-after), once per page.
std::string svg_defs();

/// A path of one bar per non-zero value: bin i spans [x0 + i * w, x0 + (i + 1) * w), its height
/// value / max of `height`, standing on `base`.
std::string bars_path(const std::vector<double>& values, double max, double x0, double w,
                      double base, double height);

/// "1,234,567"
std::string thousands(uint64_t n);
/// "950", "12k", "3M": a count short enough to stand above a bar.
std::string short_count(uint64_t n);

} // namespace valley::advisor
