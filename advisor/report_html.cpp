// SPDX-License-Identifier: MIT
/// @file report_html.cpp
/// @brief The HTML page of `valley report --format html` and `--compare`. Every string from a
/// trace goes through html_text(); the page holds aggregates only (bins and histograms), so its
/// size does not grow with events.
#include "report_html.h"

#include "html_svg.h"
#include "text.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace valley::advisor {

std::string compare_warning(const RunModel& a, const RunModel& b); // report_render.cpp

namespace {

#include "report_html_assets.inc" // kReportCss, kReportJs: advisor/html/

void page_head(std::FILE* out, const std::string& title) {
  fmt::print(out,
             "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
             "<meta name=\"generator\" content=\"valley {}\"><title>{}</title>\n<style>\n{}</style>"
             "</head>\n<body>\n{}\n",
             VALLEY_VERSION, html_text(title), kReportCss, svg_defs());
}

void page_tail(std::FILE* out) {
  fmt::print(out,
             "<footer><p class=\"meta\">valley {}: a static page; the script only zooms "
             "the timelines.</p></footer>\n<script>\n{}</script>\n</body></html>\n",
             VALLEY_VERSION, kReportJs);
}

std::string op_kind(const SiteAgg& a) {
  const char* op = op_name(static_cast<Op>(a.op));
  const char* kind = fd_kind_name(static_cast<FdKind>(a.kind));
  return fmt::format("{} on {}", op ? op : "?", kind ? kind : "?");
}

// The run's time axis: from the first process's start to the last one's last bin.
struct Axis {
  double t0 = 0, span = 1;
  static constexpr size_t kBins = 160;
  double width() const { return span / kBins; }
};

Axis run_axis(const TimelineAnalysis& tl) {
  Axis ax;
  double t0 = 0, t1 = 0;
  bool any = false;
  for (const ProcessTimeline& p : tl.processes()) {
    if (!p.used) continue;
    const double end = p.start_ns + static_cast<double>(p.used) * p.bin_ns;
    t0 = any ? std::min(t0, p.start_ns) : p.start_ns;
    t1 = any ? std::max(t1, end) : end;
    any = true;
  }
  ax.t0 = t0;
  ax.span = any && t1 > t0 ? t1 - t0 : 1;
  return ax;
}

void add_into(std::vector<TimelineCell>& acc, const std::vector<TimelineCell>& v) {
  for (size_t i = 0; i < acc.size() && i < v.size(); ++i)
    acc[i].calls += v[i].calls, acc[i].ns += v[i].ns;
}

std::vector<double> calls_of(const std::vector<TimelineCell>& v) {
  std::vector<double> out;
  for (const TimelineCell& c : v)
    out.push_back(static_cast<double>(c.calls));
  return out;
}

constexpr double kPlotW = 640, kLabelW = 300;

// The tick labels under a timeline; the script rewrites them when the view moves.
std::string time_ticks(const Axis& ax, double y) {
  std::string out;
  for (int i = 0; i <= 4; ++i) {
    const double frac = i / 4.0;
    out += fmt::format(R"~(<text class="tick" data-frac="{}" x="{:.0f}" y="{:.0f}" )~"
                       R"~(text-anchor="{}">{}</text>)~",
                       frac, kLabelW + frac * kPlotW, y,
                       i == 0   ? "start"
                       : i == 4 ? "end"
                                : "middle",
                       format_ns(frac * ax.span));
  }
  return out;
}

struct Row {
  std::string label, detail;
  std::vector<TimelineCell> all, highlight;
};

// One process (or the run) as rows of bars: calls per bin (blue), the findings' calls among them
// (hatched), and the share of the bin spent inside syscalls (dashed line).
std::string timeline_svg(const std::vector<Row>& rows, const Axis& ax, const std::string& aria) {
  constexpr double kRowH = 36, kPad = 4;
  const double h = static_cast<double>(rows.size()) * kRowH + 18;
  const double bw = kPlotW / Axis::kBins;
  std::string labels, plot;
  for (size_t r = 0; r < rows.size(); ++r) {
    const Row& row = rows[r];
    const double top = static_cast<double>(r) * kRowH, base = top + kRowH - kPad;
    double max = 0, busy_max = 0;
    for (const TimelineCell& c : row.all) {
      max = std::max(max, static_cast<double>(c.calls));
      busy_max = std::max(busy_max, c.ns / ax.width());
    }
    labels += fmt::format(R"~(<text x="0" y="{:.0f}">{}</text><text x="0" y="{:.0f}" )~"
                          R"~(font-size="10" fill="#555">{}</text>)~",
                          top + 14, row.label, top + 27, row.detail);
    labels += fmt::format(R"~(<line class="row-sep" x1="0" x2="{:.0f}" y1="{:.0f}" y2="{:.0f}"/>)~",
                          kLabelW + kPlotW, base + kPad / 2, base + kPad / 2);
    plot += fmt::format(R"~(<path class="bar-all" d="{}"/>)~",
                        bars_path(calls_of(row.all), max, 0, bw, base, kRowH - 2 * kPad));
    if (!row.highlight.empty())
      plot += fmt::format(R"~(<path class="bar-hl" d="{}"/>)~",
                          bars_path(calls_of(row.highlight), max, 0, bw, base, kRowH - 2 * kPad));
    if (busy_max > 0) {
      std::string pts;
      for (size_t i = 0; i < row.all.size(); ++i)
        pts += fmt::format("{:.1f},{:.1f} ", (static_cast<double>(i) + 0.5) * bw,
                           base - (kRowH - 2 * kPad) * row.all[i].ns / ax.width() / busy_max);
      plot += fmt::format(R"~(<polyline class="busy" points="{}"/>)~", pts);
    }
  }
  return fmt::format(
      R"~(<svg class="timeline" width="{0:.0f}" height="{1:.0f}" viewBox="0 0 {0:.0f} {1:.0f}" )~"
      R"~(role="img" aria-label="{2}">{3}<svg class="plot" x="{4:.0f}" y="0" width="{5:.0f}" )~"
      R"~(height="{6:.0f}" viewBox="0 0 {5:.0f} {6:.0f}" preserveAspectRatio="none">{7}</svg>{8}</svg>)~",
      kLabelW + kPlotW, h, html_text(aria), labels, kLabelW, kPlotW, h - 18, plot,
      time_ticks(ax, h - 4));
}

std::string zoom_box(const Axis& ax, const std::string& svg) {
  return fmt::format(
      R"~(<div class="zoomable" data-width="{:.0f}" data-span="{:.0f}"><div class="zoom nojs-hide">)~"
      R"~(<button type="button" data-zoom="in">zoom in</button><button type="button" )~"
      R"~(data-zoom="out">zoom out</button><button type="button" data-zoom="left">&#8592; )~"
      R"~(earlier</button><button type="button" data-zoom="right">later &#8594;</button>)~"
      R"~(<button type="button" data-zoom="reset">whole run</button></div>{}</div>)~",
      kPlotW, ax.span, svg);
}

std::string legend() {
  return R"~(<div class="legend"><span><svg width="18" height="12"><rect width="18" height="12" )~"
         R"~(class="bar-all"/></svg> calls per bin (bar height: the row's peak = full)</span>)~"
         R"~(<span><svg width="18" height="12"><rect width="18" height="12" class="bar-hl"/></svg> )~"
         R"~(calls from the findings' call sites</span><span><svg width="24" height="12">)~"
         R"~(<line x1="0" y1="6" x2="24" y2="6" class="busy"/></svg> time inside syscalls )~"
         R"~((share of the bin, scaled to the row's peak)</span></div>)~";
}

std::string track_label(const TimelineTrack& t) {
  const char* kind = fd_kind_name(static_cast<FdKind>(t.kind));
  return fmt::format("tid {} fd {} {}", t.tid, t.fd, kind ? kind : "?");
}

std::string series_detail(const TimelineSeries& s) {
  return fmt::format("{} calls, {} in syscalls", thousands(s.calls), format_ns(s.ns));
}

std::vector<TimelineCell> highlighted(const std::map<size_t, TimelineSeries>& sites,
                                      const std::set<size_t>& ids, const ProcessTimeline& p,
                                      const Axis& ax) {
  std::vector<TimelineCell> acc(Axis::kBins);
  for (const auto& [id, s] : sites)
    if (ids.count(id)) add_into(acc, rebin(s, p, ax.t0, ax.width(), Axis::kBins));
  return acc;
}

void timeline_section(std::FILE* out, const RunModel& m, const std::vector<Finding>& findings,
                      const TimelineAnalysis* tl) {
  fmt::print(out, "<section id=\"timeline\"><h2>Timeline</h2>\n");
  if (!tl || tl->processes().empty()) {
    fmt::print(out, "<p>No timeline: no process of the run was readable.</p></section>\n");
    return;
  }
  const Axis ax = run_axis(*tl);
  std::set<size_t> ids;
  for (const Finding& f : findings) {
    ids.insert(f.site->id);
    for (const SiteAgg* r : f.related)
      ids.insert(r->id);
  }
  fmt::print(out,
             "<p>Calls over the run ({} from the first process's start to the last call), per "
             "process, then per thread and fd. Only calls with events are shown; counters "
             "without events are not placed in time.</p>{}\n",
             format_ns(ax.span), legend());
  std::vector<const ProcessTimeline*> procs;
  for (const ProcessTimeline& p : tl->processes())
    if (p.all.calls) procs.push_back(&p);
  std::stable_sort(procs.begin(), procs.end(),
                   [](auto* x, auto* y) { return x->all.calls > y->all.calls; });
  constexpr size_t kShownTracks = 10;
  size_t hidden = 0;
  uint64_t hidden_calls = 0;
  for (const ProcessTimeline* p : procs) {
    if (p->tracks.empty()) {
      ++hidden;
      hidden_calls += p->all.calls;
      continue;
    }
    std::string program;
    for (const ProcessSummary& ps : m.processes)
      if (ps.name == p->trace) program = ps.program.empty() ? base_name(ps.exe) : ps.program;
    std::vector<Row> rows;
    // The findings' calls of the process: the sum over its tracks (each keeps its busiest
    // kMaxSitesPerTrack sites).
    std::vector<TimelineCell> all_hl = highlighted(p->other.sites, ids, *p, ax);
    for (const TimelineTrack& t : p->tracks)
      add_into(all_hl, highlighted(t.sites, ids, *p, ax));
    rows.push_back({"all calls", series_detail(p->all),
                    rebin(p->all, *p, ax.t0, ax.width(), Axis::kBins), all_hl});

    std::vector<const TimelineTrack*> tracks;
    for (const TimelineTrack& t : p->tracks)
      tracks.push_back(&t);
    std::stable_sort(tracks.begin(), tracks.end(),
                     [](auto* x, auto* y) { return x->all.calls > y->all.calls; });
    TimelineSeries rest_all;
    rest_all.bins.resize(TimelineAnalysis::kBins);
    std::vector<TimelineCell> rest(Axis::kBins), rest_hl(Axis::kBins);
    uint64_t rest_calls = p->other.all.calls;
    double rest_ns = p->other.all.ns;
    add_into(rest, rebin(p->other.all, *p, ax.t0, ax.width(), Axis::kBins));
    add_into(rest_hl, highlighted(p->other.sites, ids, *p, ax));
    for (size_t i = 0; i < tracks.size(); ++i) {
      const TimelineTrack& t = *tracks[i];
      if (i < kShownTracks) {
        const std::string path = t.path.empty() ? "" : " " + html_tail(t.path, 32);
        rows.push_back({html_text(track_label(t)) + path, series_detail(t.all),
                        rebin(t.all, *p, ax.t0, ax.width(), Axis::kBins),
                        highlighted(t.sites, ids, *p, ax)});
      } else {
        rest_calls += t.all.calls;
        rest_ns += t.all.ns;
        add_into(rest, rebin(t.all, *p, ax.t0, ax.width(), Axis::kBins));
        add_into(rest_hl, highlighted(t.sites, ids, *p, ax));
      }
    }
    if (rest_calls)
      rows.push_back(
          {"other threads and fds",
           fmt::format("{} calls, {} in syscalls", thousands(rest_calls), format_ns(rest_ns)), rest,
           rest_hl});
    fmt::print(out, "<div class=\"process\"><h3>pid {} {}</h3>\n{}</div>\n", p->pid,
               html_text(program),
               zoom_box(ax, timeline_svg(rows, ax, fmt::format("timeline of pid {}", p->pid))));
  }
  if (hidden)
    fmt::print(out,
               "<p>{} more process(es) with {} calls are in the findings' timelines but "
               "get no rows of their own (only the {} busiest do).</p>\n",
               hidden, thousands(hidden_calls), TimelineAnalysis::kMaxDetailed);
  fmt::print(out, "</section>\n");
}

// The run's calls with one site's calls highlighted, for a finding.
std::string site_timeline(const SiteAgg& a, const TimelineAnalysis* tl) {
  if (!tl) return "";
  const RunSeries& rs = tl->run_series();
  const RunSeries::Span* all = rs.find(TimelineAnalysis::kAllCalls);
  const RunSeries::Span* site = rs.find(a.id);
  if (!all || !site || !site->calls) return "";
  const Axis ax = run_axis(*tl);
  Row row{"all calls / this site",
          fmt::format("{} of its calls have events", thousands(site->calls)),
          rebin(*all, rs.width(), ax.t0, ax.width(), Axis::kBins),
          rebin(*site, rs.width(), ax.t0, ax.width(), Axis::kBins)};
  return fmt::format("<figure>{}<figcaption>When its calls were made (hatched) among the run's "
                     "calls.</figcaption></figure>",
                     timeline_svg({row}, ax, "timeline of the finding's calls"));
}

// Past this many findings, the page lists the rest without their plots: its size stays bounded
// by the tracks and findings it plots, whatever the run's length.
constexpr int kPlottedFindings = 50;

void finding_html(std::FILE* out, int rank, const Finding& f, const TimelineAnalysis* tl) {
  const SiteAgg& a = *f.site;
  fmt::print(out,
             "<details class=\"finding sev-{0}\" id=\"finding-{1}\"{4}><summary><span "
             "class=\"rank\">{1}.</span><span class=\"sev\">{0}</span><span "
             "class=\"rule\">[{2}]</span><span class=\"site\">{3}</span></summary>\n",
             html_text(f.severity), rank, html_text(f.rule), html_text(site_text(a)),
             rank <= kPlottedFindings ? " open" : "");
  fmt::print(out, "<p>{}</p>\n<dl class=\"facts\">", html_text(f.summary));
  const Frame& loc = a.caller ? *a.caller : a.frame;
  fmt::print(out, "<dt>where</dt><dd><code>{}</code></dd>",
             html_text(loc.file.empty() ? module_offset_name(loc)
                                        : fmt::format("{}:{}", base_name(loc.file), loc.line)));
  for (const SiteAgg* r : f.related)
    fmt::print(out, "<dt>with</dt><dd>{}</dd>", html_text(site_text(*r)));
  const std::string path = a.top_path();
  fmt::print(out,
             "<dt>evidence</dt><dd>{} {} calls{}, {} bytes, size median {} B p90 {} B, gap "
             "median {}, {} inside the syscalls, {} process(es)</dd>",
             thousands(a.calls), html_text(op_kind(a)),
             path.empty() ? "" : " on <code>" + html_text(path) + "</code>", thousands(a.bytes),
             a.size_quantile(0.5), a.size_quantile(0.9),
             format_ns(static_cast<double>(a.gap_median_ns())), format_ns(a.time_ns),
             a.pids.size());
  fmt::print(out, "<dt>change</dt><dd>{}</dd>", html_text(f.change));
  if (!f.idiom.empty())
    fmt::print(out, "<dt>in {}</dt><dd><code>{}</code></dd>", language_name(f.language),
               html_text(f.idiom));
  if (f.promise) {
    std::string pred = fmt::format("{} &#8594; {:.0f} syscalls, {} less CPU time in syscalls",
                                   thousands(f.before), f.after, format_ns(f.saved_ns));
    if (f.saved_wait_ns > 0)
      pred += fmt::format(", {} less waiting: {} of wall time in all", format_ns(f.saved_wait_ns),
                          format_ns(f.saved_wall_ns()));
    if (f.replay && a.output)
      pred += fmt::format("; costs {} of memory, data waits up to {}",
                          size_text(f.replay->buffer_size * f.replay->max_fds),
                          format_ns(f.replay->max_delay_ns));
    fmt::print(out, "<dt>predicted</dt><dd class=\"saving\">{}</dd>", pred);
  } else {
    fmt::print(out, "<dt>predicted</dt><dd>no saving promised (a note, not a finding)</dd>");
  }
  for (const std::string& n : f.notes)
    fmt::print(out, "<dt>note</dt><dd>{}</dd>", html_text(n));
  fmt::print(out, "</dl>\n");
  if (rank > kPlottedFindings) {
    fmt::print(out, "<p class=\"meta\">Plots are drawn for the first {} findings only.</p>\n",
               kPlottedFindings);
  } else {
    fmt::print(out, "<div class=\"charts\">");
    fmt::print(out,
               "<figure class=\"hist\">{}<figcaption>Request sizes (bytes, log2 buckets): calls "
               "per bucket, "
               "from the counters.</figcaption></figure>",
               svg_bar_chart(size_bars(a), "size histogram"));
    if (a.events)
      fmt::print(
          out,
          "<figure class=\"hist\">{}<figcaption>Gaps since the previous call on the fd (log2 "
          "buckets), from the events.</figcaption></figure>",
          svg_bar_chart(gap_bars(a), "gap histogram", "bar gap"));
    else
      fmt::print(out, "<figure><p>No events: no gaps to show.</p></figure>");
    fmt::print(out, "{}</div>\n", site_timeline(a, tl));
  }
  fmt::print(out, "<details class=\"stacks\"><summary>{} stack(s)</summary>\n", a.stacks.size());
  for (const StackView& sv : a.stacks) {
    std::string lines;
    for (const Frame& fr : sv.frames)
      for (const std::string& l : frame_lines(fr, SourcePaths::base))
        lines += html_text(l) + "\n";
    fmt::print(out, "<p>{} hit(s):</p><pre>{}</pre>\n", thousands(sv.hits), lines);
  }
  fmt::print(out, "</details></details>\n");
}

void coverage_section(std::FILE* out, const RunModel& m) {
  fmt::print(out, "<section id=\"coverage\"><h2>Coverage</h2>\n<table><thead><tr><th>pid</th>"
                  "<th>program</th><th class=\"n\">kernel reads</th><th class=\"n\">seen</th>"
                  "<th class=\"n\">kernel writes</th><th class=\"n\">seen</th><th class=\"n\">"
                  "events</th><th class=\"n\">dropped</th><th>state</th></tr></thead><tbody>\n");
  for (const ProcessSummary& p : m.processes) {
    const std::string state = !p.readable        ? "unreadable"
                              : p.killed         ? "killed"
                              : p.coverage_valid ? "exited"
                                                 : "no coverage measured";
    auto cov = [&](uint64_t v) { return p.coverage_valid ? thousands(v) : std::string("?"); };
    fmt::print(out,
               "<tr><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}"
               "</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td "
               "class=\"n\">{}</td><td>{}</td></tr>\n",
               p.pid, html_text(p.program.empty() ? base_name(p.exe) : p.program),
               cov(p.kernel_reads), cov(p.seen_reads), cov(p.kernel_writes), cov(p.seen_writes),
               thousands(p.events), thousands(p.dropped), state);
  }
  fmt::print(out,
             "</tbody></table></section>\n<section id=\"blind-spots\"><h2>Blind spots</h2><ul>\n");
  for (const std::string& b : blind_spots(m))
    fmt::print(out, "<li>{}</li>\n", html_text(b));
  for (const Problem& p : m.problems)
    fmt::print(out, "<li>{}: {}</li>\n", html_text(p.file), html_text(p.message));
  fmt::print(out, "</ul>\n");
  if (!m.unnamed_modules.empty()) {
    fmt::print(out, "<h3>Missing names</h3><ul>\n");
    for (const UnnamedModule& u : m.unnamed_modules)
      fmt::print(out, "<li>{}</li>\n", html_text(unnamed_module_text(u)));
    fmt::print(out, "</ul>\n");
  }
  fmt::print(out, "</section>\n");
}

} // namespace

std::vector<Bar> size_bars(const SiteAgg& a) {
  std::vector<Bar> bars;
  size_t lo = kHistBuckets, hi = 0;
  for (size_t b = 0; b < kHistBuckets; ++b)
    if (a.size_hist[b]) lo = std::min(lo, b), hi = b;
  for (size_t b = lo; b <= hi && lo < kHistBuckets; ++b) {
    const uint64_t low = bucket_low(static_cast<uint32_t>(b));
    const std::string range = b <= 1                  ? std::to_string(low)
                              : b + 1 == kHistBuckets ? fmt::format("{} or more", low)
                                                      : fmt::format("{}-{}", low, 2 * low - 1);
    bars.push_back({size_label(low), a.size_hist[b],
                    fmt::format("{} bytes: {} calls", range, a.size_hist[b])});
  }
  return bars;
}

std::vector<Bar> gap_bars(const SiteAgg& a) {
  std::vector<Bar> bars;
  size_t lo = a.gap_hist.size(), hi = 0;
  for (size_t b = 0; b < a.gap_hist.size(); ++b)
    if (a.gap_hist[b]) lo = std::min(lo, b), hi = b;
  for (size_t b = lo; b <= hi && lo < a.gap_hist.size(); ++b) {
    const uint64_t low = bucket_low(static_cast<uint32_t>(b));
    bars.push_back(
        {format_ns(static_cast<double>(low)), a.gap_hist[b],
         fmt::format("gap from {}: {} calls", format_ns(static_cast<double>(low)), a.gap_hist[b])});
  }
  return bars;
}

void render_html(std::FILE* out, const RunModel& m, const std::vector<Finding>& findings,
                 const TimelineAnalysis* tl) {
  page_head(out, "valley report: " + m.dir);
  size_t readable = 0;
  for (const ProcessSummary& p : m.processes)
    readable += p.readable;
  fmt::print(out,
             "<header><h1>valley report</h1><p class=\"meta\"><code>{}</code></p><p>{} "
             "process(es), {} call site(s), {} finding(s)</p><nav><a href=\"#findings\">findings"
             "</a><a href=\"#timeline\">timeline</a><a href=\"#coverage\">coverage</a><a "
             "href=\"#blind-spots\">blind spots</a></nav></header>\n",
             html_text(m.dir), readable, m.sites.size(), findings.size());
  fmt::print(out, "<section id=\"findings\"><h2>Findings</h2>\n");
  if (findings.empty())
    fmt::print(out, "<p>No findings: no call site does small I/O often enough.</p>\n");
  int rank = 0;
  for (const Finding& f : findings)
    finding_html(out, ++rank, f, tl);
  fmt::print(out, "</section>\n");
  timeline_section(out, m, findings, tl);
  coverage_section(out, m);
  page_tail(out);
}

void render_compare_html(std::FILE* out, const RunModel& a, const RunModel& b,
                         const std::map<std::string, double>& predicted) {
  page_head(out, "valley report --compare: " + a.dir + " / " + b.dir);
  fmt::print(out,
             "<header><h1>valley report --compare</h1><p>before <code>{}</code>, after "
             "<code>{}</code></p></header>\n<section id=\"compare\"><h2>Before and after, per "
             "call site</h2>\n",
             html_text(a.dir), html_text(b.dir));
  if (const std::string w = compare_warning(a, b); !w.empty())
    fmt::print(out, "<p class=\"warning\">warning: {}</p>\n", html_text(w));
  struct Pair {
    const SiteAgg* before = nullptr;
    const SiteAgg* after = nullptr;
  };
  std::map<std::string, Pair> rows;
  for (const SiteAgg& s : a.sites)
    rows[s.key].before = &s;
  for (const SiteAgg& s : b.sites)
    rows[s.key].after = &s;
  auto sys = [](const SiteAgg* s) { return s ? s->syscalls() : 0; };
  std::vector<std::pair<std::string, Pair>> sorted(rows.begin(), rows.end());
  std::stable_sort(sorted.begin(), sorted.end(), [&](const auto& x, const auto& y) {
    return sys(x.second.before) + sys(x.second.after) > sys(y.second.before) + sys(y.second.after);
  });
  uint64_t max = std::max<uint64_t>({1, a.flush_writes, b.flush_writes});
  for (const auto& [key, r] : sorted)
    max = std::max({max, sys(r.before), sys(r.after)});
  fmt::print(out,
             "<div class=\"legend\"><span><svg width=\"18\" height=\"12\"><rect width=\"18\" "
             "height=\"12\" class=\"before\"/></svg> before (solid)</span><span><svg width=\"18\" "
             "height=\"12\"><rect width=\"18\" height=\"12\" class=\"after\"/></svg> after "
             "(hatched)</span><span><svg width=\"18\" height=\"12\"><line x1=\"9\" x2=\"9\" "
             "y1=\"0\" y2=\"12\" class=\"predicted\"/></svg> predicted by the first run's report"
             "</span></div>\n<table><thead><tr><th>call site (op, fd kind)</th><th>syscalls "
             "(bars on one linear scale)</th><th class=\"n\">time before</th><th class=\"n\">"
             "after</th></tr></thead><tbody>\n");
  auto bars = [&](uint64_t before, uint64_t after, const double* pred) {
    constexpr double kW = 360;
    auto w = [&](double v) {
      return std::max(v > 0 ? 1.0 : 0.0, kW * v / static_cast<double>(max));
    };
    std::string s = fmt::format(
        R"~(<svg class="pair" width="{0:.0f}" height="34" viewBox="0 0 {0:.0f} 34" role="img" )~"
        R"~(aria-label="{1} before, {2} after">)~"
        R"~(<rect class="before" x="0" y="2" width="{3:.1f}" height="13"/>)~"
        R"~(<text x="{4:.1f}" y="13">before {1}</text>)~"
        R"~(<rect class="after" x="0" y="18" width="{5:.1f}" height="13"/>)~"
        R"~(<text x="{6:.1f}" y="29">after {2}</text>)~",
        kW + 130, thousands(before), thousands(after), w(static_cast<double>(before)),
        w(static_cast<double>(before)) + 4, w(static_cast<double>(after)),
        w(static_cast<double>(after)) + 4);
    if (pred)
      s += fmt::format(R"~(<line class="predicted" x1="{0:.1f}" x2="{0:.1f}" y1="16" y2="33">)~"
                       R"~(<title>predicted {1:.0f}</title></line>)~",
                       w(*pred), *pred);
    return s + "</svg>";
  };
  for (const auto& [key, r] : sorted) {
    const SiteAgg* any = r.before ? r.before : r.after;
    const auto p = predicted.find(key);
    fmt::print(
        out,
        "<tr><td>{} <span class=\"meta\">({})</span>{}</td><td>{}</td><td class=\"n\">{}</td>"
        "<td class=\"n\">{}</td></tr>\n",
        html_text(site_text(*any)), html_text(op_kind(*any)),
        p == predicted.end() ? "" : fmt::format("<br>predicted: {:.0f} syscalls", p->second),
        bars(sys(r.before), sys(r.after), p == predicted.end() ? nullptr : &p->second),
        format_ns(r.before ? r.before->time_ns : 0), format_ns(r.after ? r.after->time_ns : 0));
  }
  fmt::print(out, "<tr><td>valley's own flush writes</td><td>{}</td><td></td><td></td></tr>\n",
             bars(a.flush_writes, b.flush_writes, nullptr));
  fmt::print(out, "</tbody></table></section>\n");
  page_tail(out);
}

} // namespace valley::advisor
