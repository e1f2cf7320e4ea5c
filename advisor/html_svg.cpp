// SPDX-License-Identifier: MIT
/// @file html_svg.cpp
/// @brief HTML escaping and the SVG bar charts of the HTML report.
#include "html_svg.h"

#include "text.h"

#include <fmt/format.h>

#include <algorithm>

namespace valley::advisor {

std::string html_escape(std::string_view p) {
  std::string out;
  out.reserve(p.size());
  for (char c : p) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string html_text(std::string_view s) { return html_escape(printable(s)); }

std::string html_tail(std::string_view s, size_t max_bytes) {
  std::string p = printable(s);
  if (p.size() > max_bytes && max_bytes > 3) {
    size_t from = p.size() - (max_bytes - 3);
    // Not inside a UTF-8 sequence: printable() left only well-formed ones.
    while (from < p.size() && (static_cast<unsigned char>(p[from]) & 0xc0) == 0x80)
      ++from;
    p = "..." + p.substr(from);
  }
  return html_escape(p);
}

std::string thousands(uint64_t n) {
  std::string d = std::to_string(n), out;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return out;
}

std::string svg_defs() {
  // Diagonal hatching: the highlighted series differ from the others by pattern, not only hue.
  return R"~(<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>)~"
         R"~(<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" )~"
         R"~(patternTransform="rotate(45)"><rect width="6" height="6" fill="#E69F00"/>)~"
         R"~(<rect width="2.5" height="6" fill="#D55E00"/></pattern>)~"
         R"~(<pattern id="hatch-after" width="6" height="6" patternUnits="userSpaceOnUse" )~"
         R"~(patternTransform="rotate(-45)"><rect width="6" height="6" fill="#fff"/>)~"
         R"~(<rect width="3" height="6" fill="#E69F00"/></pattern>)~"
         R"~(</defs></svg>)~";
}

std::string svg_bar_chart(const std::vector<Bar>& bars, const std::string& aria,
                          const std::string& css_class) {
  constexpr double kBarW = 26, kGap = 4, kLeft = 30, kTop = 16, kPlotH = 90, kLabelH = 40;
  uint64_t max = 1;
  for (const Bar& b : bars)
    max = std::max(max, b.value);
  const double width = kLeft * 2 + static_cast<double>(bars.size()) * (kBarW + kGap);
  const double height = kTop + kPlotH + kLabelH;
  std::string out = fmt::format(
      R"~(<svg class="chart" width="{0:.0f}" height="{1:.0f}" viewBox="0 0 {0:.0f} {1:.0f}" )~"
      R"~(role="img" aria-label="{2}">)~",
      std::max(width, 120.0), height, html_text(aria));
  out += fmt::format(R"~(<line class="axis" x1="{}" y1="{}" x2="{:.0f}" y2="{}"/>)~", kLeft,
                     kTop + kPlotH, width - kLeft, kTop + kPlotH);
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double x = kLeft + static_cast<double>(i) * (kBarW + kGap) + kGap / 2;
    const double h =
        b.value ? std::max(1.0, kPlotH * static_cast<double>(b.value) / static_cast<double>(max))
                : 0;
    const double y = kTop + kPlotH - h;
    out += fmt::format(R"~(<g><title>{}</title>)~", html_text(b.tip.empty() ? b.label : b.tip));
    if (b.value)
      out += fmt::format(R"~(<rect class="{}" x="{:.1f}" y="{:.1f}" width="{}" height="{:.1f}"/>)~",
                         html_text(css_class), x, y, kBarW, h);
    out +=
        fmt::format(R"~(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" font-size="9">{}</text>)~",
                    x + kBarW / 2, y - 3, b.value ? html_text(short_count(b.value)) : "");
    out += fmt::format(R"~(<text x="{:.1f}" y="{:.1f}" text-anchor="end" font-size="9" )~"
                       R"~(transform="rotate(-45 {:.1f} {:.1f})">{}</text></g>)~",
                       x + kBarW / 2 + 3, kTop + kPlotH + 10, x + kBarW / 2 + 3, kTop + kPlotH + 10,
                       html_text(b.label));
  }
  return out + "</svg>";
}

std::string short_count(uint64_t n) {
  if (n < 10000) return std::to_string(n);
  if (n < 10000000) return fmt::format("{}k", n / 1000);
  return fmt::format("{}M", n / 1000000);
}

std::string bars_path(const std::vector<double>& values, double max, double x0, double w,
                      double base, double height) {
  std::string d;
  if (!(max > 0)) return d;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!(values[i] > 0)) continue;
    const double h = std::max(0.8, height * std::min(1.0, values[i] / max));
    d += fmt::format("M{:.1f} {:.1f}V{:.1f}h{:.2f}V{:.1f}z", x0 + static_cast<double>(i) * w, base,
                     base - h, w, base);
  }
  return d;
}

} // namespace valley::advisor
