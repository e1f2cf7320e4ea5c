// SPDX-License-Identifier: MIT
// The HTML report's renderer on models built in memory: text from a trace can never become
// markup, the bars are as tall as their counts say, the timeline's bins keep every call when
// they widen, and an empty run is still a whole page.
#include "report_html.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

using namespace valley;
using namespace valley::advisor;

namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1))
    ++n;
  return n;
}

template <class F> std::string capture(F&& render) {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = ::open_memstream(&buf, &len);
  render(f);
  std::fclose(f);
  std::string out(buf, len);
  std::free(buf);
  return out;
}

EventRecord event_at(uint64_t ticks, uint32_t duration, int fd = 3) {
  EventRecord e{};
  e.tid = 77;
  e.ticks = ticks;
  e.offset = -1;
  e.result = 8;
  e.size = 8;
  e.duration = duration;
  e.fd = fd;
  e.op = static_cast<uint8_t>(Op::write);
  e.fd_kind = static_cast<uint8_t>(FdKind::regular);
  return e;
}

// A process traced from tick 0 to 1599 at 1 ns a tick: 160 bins of 10 ticks.
struct OneProcess {
  Trace trace;
  TraceModel model;
  ProcessContext ctx{trace, model, 1.0};
  OneProcess() {
    trace.name = "4242-0";
    trace.pid = 4242;
    trace.header_valid = true;
    trace.header.start_ticks = 0;
    trace.header.end_ticks = 1599;
  }
};

} // namespace

TEST(HtmlText, EscapesMarkupAndQuotesAndKeepsTheEscapesOfPrintable) {
  EXPECT_EQ(html_text("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
  EXPECT_EQ(html_text("a\x1b[2J\xff"), "a\\x1b[2J\\xff");
  EXPECT_EQ(html_text("caf\xc3\xa9.csv"), "caf\xc3\xa9.csv");
  EXPECT_EQ(html_text("back\\slash"), "back\\x5cslash");
}

TEST(HtmlText, TailCutsBeforeEscapingAndKeepsTheEnd) {
  EXPECT_EQ(html_tail("/data/a&b.csv", 40), "/data/a&amp;b.csv");
  EXPECT_EQ(html_tail("/very/long/directory/a&b.csv", 10), "...a&amp;b.csv");
  // Not in the middle of the two bytes of \xc3\xa9.
  EXPECT_EQ(html_tail("/x/caf\xc3\xa9s", 5), "...s");
  EXPECT_EQ(html_tail("/x/caf\xc3\xa9s", 6), "...\xc3\xa9s");
}

TEST(SvgBarChart, BarsAreAsTallAsTheirCountsAndLabelledWithThem) {
  const std::string svg =
      svg_bar_chart({{"1", 100, "one"}, {"2", 50, "<b>two</b>"}, {"4", 0, ""}}, "sizes");
  // 90 px of plot: the largest count fills it, half of it is half as tall, zero draws no bar.
  EXPECT_EQ(count(svg, "<rect class=\"bar\""), 2u) << svg;
  EXPECT_NE(svg.find("width=\"26\" height=\"90.0\""), std::string::npos) << svg;
  EXPECT_NE(svg.find("width=\"26\" height=\"45.0\""), std::string::npos) << svg;
  EXPECT_NE(svg.find(">100</text>"), std::string::npos) << svg;
  EXPECT_NE(svg.find(">50</text>"), std::string::npos) << svg;
  EXPECT_NE(svg.find("<title>&lt;b&gt;two&lt;/b&gt;</title>"), std::string::npos) << svg;
  EXPECT_EQ(svg.find("<b>"), std::string::npos) << svg;
}

TEST(SvgBarChart, PathHasOneBarPerNonZeroBin) {
  EXPECT_EQ(bars_path({0, 2, 4}, 4, 0, 10, 30, 20),
            "M10.0 30.0V20.0h10.00V30.0zM20.0 30.0V10.0h10.00V30.0z");
  EXPECT_EQ(bars_path({0, 0}, 0, 0, 10, 30, 20), "");
}

TEST(HistogramBars, SizesSpanTheNonEmptyBucketsWithTheirRanges) {
  SiteAgg a;
  a.size_hist[bucket_of(8)] = 7;
  a.size_hist[bucket_of(100)] = 3;
  const std::vector<Bar> bars = size_bars(a);
  ASSERT_EQ(bars.size(), 4u); // 8-15, 16-31, 32-63, 64-127
  EXPECT_EQ(bars[0].label, "8");
  EXPECT_EQ(bars[0].value, 7u);
  EXPECT_EQ(bars[0].tip, "8-15 bytes: 7 calls");
  EXPECT_EQ(bars[1].value, 0u);
  EXPECT_EQ(bars[3].label, "64");
  EXPECT_EQ(bars[3].value, 3u);

  a.gap_hist[bucket_of(300)] = 5;
  const std::vector<Bar> gaps = gap_bars(a);
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].label, "256ns");
  EXPECT_EQ(gaps[0].value, 5u);
  EXPECT_TRUE(size_bars(SiteAgg{}).empty());
}

// the bins widen instead of growing in number.
TEST(Timeline, BinsWidenWithoutLosingCalls) {
  OneProcess p;
  TimelineAnalysis tl;
  SiteAgg site;
  site.id = 3;
  tl.begin_process(p.ctx);
  std::unique_ptr<FdData> none;
  const EventRecord a = event_at(5, 2), b = event_at(25, 4), late = event_at(3200, 1);
  tl.call(Call{a, &site, 0, 2}, none);
  tl.call(Call{b, &site, 0, 4}, none);
  ASSERT_EQ(tl.processes().size(), 1u);
  EXPECT_EQ(tl.processes()[0].all.bins[0].calls, 1u);
  EXPECT_EQ(tl.processes()[0].all.bins[2].calls, 1u);
  // Past the recorded end (killed after its last drain): 3200 / 10 >= 160, so the bins double
  // twice, to 40 ticks; the earlier calls fold into bin 0.
  tl.call(Call{late, nullptr, 0, 1}, none);
  tl.end_process();
  const ProcessTimeline& pt = tl.processes()[0];
  EXPECT_DOUBLE_EQ(pt.bin_ns, 40);
  EXPECT_EQ(pt.all.bins[0].calls, 2u);
  EXPECT_DOUBLE_EQ(pt.all.bins[0].ns, 6);
  EXPECT_EQ(pt.all.bins[80].calls, 1u);
  EXPECT_EQ(pt.all.calls, 3u);
  EXPECT_EQ(pt.used, 81u);
  // The site's bins went to the run's series at the end of the process.
  EXPECT_TRUE(pt.sites.empty());
  ASSERT_NE(tl.run_series().find(3), nullptr);
  EXPECT_EQ(tl.run_series().find(3)->calls, 2u); // the late call had no site
  EXPECT_EQ(tl.run_series().find(TimelineAnalysis::kAllCalls)->calls, 3u);
  ASSERT_EQ(pt.tracks.size(), 1u);
  EXPECT_EQ(pt.tracks[0].tid, 77u);
  EXPECT_EQ(pt.tracks[0].all.calls, 3u);
}

TEST(Timeline, ARunRecordSpreadsItsCallsOverTheBinsItSpans) {
  OneProcess p;
  TimelineAnalysis tl;
  SiteAgg site;
  tl.begin_process(p.ctx);
  std::unique_ptr<FdData> none;
  const EventRecord first = event_at(0, 0);
  // Calls 1..100 of a run from tick 0 to 1000: 100 calls over bins 0..100.
  tl.run(Call{first, &site, 0, 0}, Spread{0, 1000, 100}, none);
  const ProcessTimeline& pt = tl.processes()[0];
  EXPECT_EQ(pt.all.calls, 100u);
  uint64_t sum = 0, nonzero = 0;
  for (const TimelineCell& c : pt.all.bins)
    sum += c.calls, nonzero += c.calls != 0;
  EXPECT_EQ(sum, 100u);
  EXPECT_EQ(nonzero, 100u); // bins 1..100, one call each
}

// one grid for the run, widened so that no series spans more than kBins bins.
TEST(Timeline, RunSeriesWidenInsteadOfGrowing) {
  RunSeries rs;
  rs.add(1, 5, 1, 2, 10);    // bin 0 of 10 ns
  rs.add(2, 1505, 4, 0, 10); // bin 150
  EXPECT_DOUBLE_EQ(rs.width(), 10);
  rs.add(1, 2005, 1, 3, 10); // bin 200: 201 bins from 0, so 20 ns bins: 0 and 100
  EXPECT_DOUBLE_EQ(rs.width(), 20);
  const RunSeries::Span& a = *rs.find(1);
  EXPECT_EQ(a.first, 0);
  ASSERT_EQ(a.cells.size(), 101u);
  EXPECT_EQ(a.cells[0].calls, 1u);
  EXPECT_EQ(a.cells[100].calls, 1u);
  EXPECT_DOUBLE_EQ(a.cells[100].ns, 3);
  EXPECT_EQ(a.calls, 2u);
  const RunSeries::Span& b = *rs.find(2); // widened alike: bin 150 of 10 ns is bin 75 of 20
  EXPECT_EQ(b.first, 75);
  ASSERT_EQ(b.cells.size(), 1u);
  EXPECT_EQ(b.cells[0].calls, 4u);
  EXPECT_EQ(rs.find(3), nullptr);
  // Laid onto a 4-bin axis from 0 to 4000 ns: 1000 ns a bin.
  const std::vector<TimelineCell> out = rebin(a, rs.width(), 0, 1000, 4);
  EXPECT_EQ(out[0].calls, 1u);
  EXPECT_EQ(out[2].calls, 1u);
}

TEST(Timeline, RebinPutsEachBinWhereItsMiddleFalls) {
  ProcessTimeline p;
  p.start_ns = 1000;
  p.bin_ns = 10;
  TimelineSeries s;
  s.add(0, 1, 5);
  s.add(5, 2, 7);
  const std::vector<TimelineCell> out = rebin(s, p, 1000, 50, 4);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].calls, 1u);
  EXPECT_EQ(out[1].calls, 2u);
  EXPECT_DOUBLE_EQ(out[1].ns, 7);
  EXPECT_EQ(out[2].calls + out[3].calls, 0u);
}

TEST(RenderHtml, AnEmptyRunIsAWholePage) {
  RunModel m;
  m.dir = "runs/<empty>";
  const std::string page = capture([&](std::FILE* f) { render_html(f, m, {}, nullptr); });
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(page.substr(page.size() - 8), "</html>\n");
  for (const char* id : {"findings", "timeline", "coverage", "blind-spots"})
    EXPECT_EQ(count(page, std::string("<section id=\"") + id + "\""), 1u) << id;
  EXPECT_NE(page.find("No findings"), std::string::npos);
  EXPECT_NE(page.find("No timeline"), std::string::npos);
  EXPECT_NE(page.find("runs/&lt;empty&gt;"), std::string::npos);
  EXPECT_EQ(page.find("<empty>"), std::string::npos);
  EXPECT_EQ(count(page, "<script"), 1u); // the page's own, nothing else
  EXPECT_EQ(page.find("http"), std::string::npos) << "the page refers to the network";
}

// paths, program, module, function and file names are the traced program's choice.
TEST(RenderHtml, NamesFromTheTraceNeverBecomeMarkup) {
  RunModel m;
  m.dir = "run";
  SiteAgg a;
  a.id = 0;
  a.key = "k";
  a.op = static_cast<uint8_t>(Op::write);
  a.kind = static_cast<uint8_t>(FdKind::regular);
  a.output = true;
  a.calls = a.events = 2;
  a.frame.module = "/bin/<img src=x onerror=alert(1)>";
  a.frame.function = "<script>alert(1)</script>";
  a.frame.file = "/src/\"><img src=y onerror=alert(2)>.c";
  a.frame.line = 7;
  a.paths["/tmp/<script>alert(3)</script>.csv"] = 2;
  a.size_hist[bucket_of(8)] = 2;
  a.gap_hist[3] = 2;
  a.stacks.push_back({{a.frame}, 2});
  m.sites.push_back(a);
  m.index_sites();
  ProcessSummary ps;
  ps.name = "4242-0";
  ps.pid = 4242;
  ps.readable = true;
  ps.program = "<svg onload=alert(4)>";
  m.processes.push_back(ps);
  Finding f;
  f.rule = "small-writes";
  f.severity = "medium";
  f.site = &m.sites[0];
  f.summary = "2 writes <b>bold</b>";
  f.change = "buffer & write";
  f.before = 2;
  f.after = 1;

  OneProcess p;
  TimelineAnalysis tl;
  tl.begin_process(p.ctx);
  std::unique_ptr<FdData> fd3, fd4; // the event pass keeps each fd's data apart
  const EventRecord e1 = event_at(100, 3), e2 = event_at(900, 3, 4);
  tl.call(Call{e1, &m.sites[0], 0, 3}, fd3);
  tl.call(Call{e2, nullptr, 0, 3}, fd4);
  tl.end_process();

  const std::string page = capture([&](std::FILE* fp) { render_html(fp, m, {f}, &tl); });
  EXPECT_EQ(count(page, "<script"), 1u);
  EXPECT_EQ(page.find("<img"), std::string::npos);
  EXPECT_EQ(page.find("<svg onload"), std::string::npos);
  EXPECT_EQ(page.find("<b>"), std::string::npos);
  EXPECT_EQ(page.find("\"><img"), std::string::npos);
  EXPECT_NE(page.find("&quot;&gt;&lt;img src=y onerror=alert(2)&gt;.c:7"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(page.find("/tmp/&lt;script&gt;alert(3)&lt;/script&gt;.csv"), std::string::npos);
  EXPECT_NE(page.find("buffer &amp; write"), std::string::npos);
  // The finding's call is highlighted in the process's timeline and in its own.
  EXPECT_EQ(count(page, "aria-label=\"timeline of pid 4242\""), 1u);
  EXPECT_EQ(count(page, "aria-label=\"timeline of the finding"), 1u);
  EXPECT_EQ(count(page, "class=\"bar-hl\" d=\"M"), 3u) << page; // all calls, fd 3, the finding
  EXPECT_EQ(count(page, "<svg class=\"chart\""), 2u);
}

TEST(RenderHtml, CompareDrawsBeforeAndAfterBarsPerSite) {
  RunModel a, b;
  a.dir = "before";
  b.dir = "after";
  SiteAgg s;
  s.key = "demo+0x10:write:file";
  s.calls = 1000;
  s.op = static_cast<uint8_t>(Op::write);
  s.kind = static_cast<uint8_t>(FdKind::regular);
  s.frame.function = "emit_row";
  a.sites.push_back(s);
  s.calls = 10;
  b.sites.push_back(s);
  const std::string page = capture([&](std::FILE* f) {
    render_compare_html(f, a, b, {{"demo+0x10:write:file", 12.0}});
  });
  EXPECT_NE(page.find("aria-label=\"1,000 before, 10 after\""), std::string::npos) << page;
  // 360 px for the largest count: 1000 -> 360, 10 -> 3.6, the prediction's mark at 4.32.
  EXPECT_NE(page.find("class=\"before\" x=\"0\" y=\"2\" width=\"360.0\""), std::string::npos);
  EXPECT_NE(page.find("class=\"after\" x=\"0\" y=\"18\" width=\"3.6\""), std::string::npos);
  EXPECT_NE(page.find("x1=\"4.3\""), std::string::npos);
  EXPECT_NE(page.find("predicted: 12 syscalls"), std::string::npos);
}
