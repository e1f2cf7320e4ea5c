// SPDX-License-Identifier: MIT
/// @file report_render.cpp
/// @brief Text and JSON renderings of a report, and --compare.
#include "report.h"

#include "frame_json.h"
#include "json_text.h"
#include "text.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace valley::advisor {
namespace {

const Frame& location(const SiteAgg& a) {
  if (a.python) return *a.python;
  return a.caller ? *a.caller : a.frame;
}

// Word wrap with a hanging indent.
std::string wrap(const std::string& text, size_t indent, size_t width) {
  std::string out, line;
  const std::string pad(indent, ' ');
  size_t start = 0;
  while (start < text.size()) {
    size_t sp = text.find(' ', start);
    std::string word = text.substr(start, sp == std::string::npos ? std::string::npos : sp - start);
    start = sp == std::string::npos ? text.size() : sp + 1;
    if (!line.empty() && indent + line.size() + 1 + word.size() > width) {
      out += line + "\n" + pad;
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  return out + line;
}

nlohmann::json frame_json(const Frame& f) {
  nlohmann::json j{{"module", f.module},
                   {"offset", fmt::format("0x{:x}", f.offset)},
                   {"function", f.function},
                   {"file", f.file},
                   {"line", f.line},
                   {"build_id_mismatch", f.build_id_mismatch},
                   {"python", f.python},
                   {"text", frame_text(f)},
                   {"inlined_into", inlined_json(f, false)}};
  if (f.build_id_mismatch) j["file"] = "", j["line"] = 0;
  return j;
}

// "12.3us of CPU at 41ns a call, 2.10s waiting", or why work and waiting are not told apart.
std::string cost_text(const SiteAgg& a) {
  if (!a.cost_from_events)
    return "no events were recorded to tell the kernel's work from waiting";
  // On a file or a device, time beyond the typical call is the page cache's or the device's
  // (a cache miss, a journal commit), not a peer's: no batching of these calls removes it.
  return fmt::format("{} of CPU at {} a call, {} {}", format_ns(a.time_ns - a.wait_ns),
                     format_ns(a.cost_ns), format_ns(a.wait_ns),
                     peer_kind(a.kind) ? "waiting" : "in slower calls");
}

nlohmann::json replay_json(const ReplayResult& r) {
  return {{"buffer_size", r.buffer_size}, {"syscalls_after", r.syscalls_after},
          {"saved_ns", r.saved_ns}, {"max_delay_ns", r.max_delay_ns},
          {"memory_bytes", r.buffer_size * r.max_fds}};
}

} // namespace

std::string flush_reasons_text(const SiteAgg& a);
std::string straight_text(const SiteAgg& a);
template <size_t N>
std::vector<std::pair<uint64_t, size_t>> by_count(const std::array<uint64_t, N>& counts,
                                                  size_t first);

void render_text(std::FILE* out, const RunModel& m, const std::vector<Finding>& findings,
                 const AdvisorSettings& s, const TextStyle& st) {
  auto c = [&](const char* code, const std::string& t) {
    return st.colour ? fmt::format("\033[{}m{}\033[0m", code, t) : t;
  };
  const size_t w = st.width;
  size_t readable = 0;
  for (const ProcessSummary& p : m.processes) readable += p.readable;
  if (m.dirs.size() > 1) {
    fmt::print(out, "{}\n", c("1", fmt::format("valley report: {} runs merged", m.dirs.size())));
    for (size_t r = 0; r < m.dirs.size(); ++r) {
      size_t n = 0;
      for (const ProcessSummary& p : m.processes)
        n += p.run == r;
      fmt::print(out, "  run {}: {} ({} process(es))\n", r + 1, printable(m.dirs[r]), n);
    }
    if (!m.merged_by_path.empty())
      fmt::print(out, "  {}\n",
                 wrap(printable(fmt::format("merged by path and offset (no build-id): {}",
                                            fmt::join(m.merged_by_path, ", "))),
                      2, w));
  } else {
    fmt::print(out, "{}\n", c("1", fmt::format("valley report: {}", printable(m.dir))));
  }
  for (const std::string& f : m.filters)
    fmt::print(out, "filter: {}\n", printable(f));
  fmt::print(out, "{} process(es), {} call site(s), {} finding(s)\n\n", readable,
             m.sites.size() - m.hidden_sites.size(), findings.size());
  int n = 0;
  for (const Finding& f : findings) {
    const SiteAgg& a = *f.site;
    const char* sev = f.severity == "high"     ? "1;31"
                      : f.severity == "medium" ? "33"
                      : f.severity == "note"   ? "2"
                                               : "36";
    fmt::print(out, "{}. {} {}  {}\n", ++n, c(sev, fmt::format("[{}]", f.rule)), c(sev, f.severity),
               c("1", printable(site_text(a))));
    fmt::print(out, "   {}\n", wrap(printable(f.summary), 3, w));
    for (const SiteAgg* r : f.related)
      fmt::print(out, "   with: {}\n", printable(site_text(*r)));
    std::string path = a.top_path();
    fmt::print(out, "   {}\n",
               wrap(fmt::format("evidence: {} {} calls on {}{}, {} bytes, size median {} B p90 {} "
                                "B, gap median {}, {} inside the syscalls ({}), {} process(es)",
                                a.calls, op_name(static_cast<Op>(a.op)),
                                fd_kind_name(static_cast<FdKind>(a.kind)),
                                path.empty() ? "" : " " + printable(path), a.bytes,
                                a.size_quantile(0.5), a.size_quantile(0.9),
                                format_ns(static_cast<double>(a.gap_median_ns())),
                                format_ns(a.time_ns), cost_text(a), a.pids.size()),
                    3, w));
    fmt::print(out, "   {}\n", wrap("change: " + printable(f.change), 3, w));
    if (!f.idiom.empty())
      fmt::print(
          out, "   {}\n",
          wrap(fmt::format("in {}: {}", language_name(f.language), printable(f.idiom)), 3, w));
    if (f.promise) {
      std::string pred = fmt::format("predicted: {} -> {:.0f} syscalls, {} less CPU time in syscalls",
                                     f.before, f.after, format_ns(f.saved_ns));
      if (f.saved_wait_ns > 0)
        pred += fmt::format(", {} less waiting: {} of wall time in all",
                            format_ns(f.saved_wait_ns), format_ns(f.saved_wall_ns()));
      if (f.replay && a.output)
        pred += fmt::format("; costs {} of memory, data waits up to {}",
                            size_text(f.replay->buffer_size * f.replay->max_fds),
                            format_ns(f.replay->max_delay_ns));
      fmt::print(out, "   {}\n", c("32", wrap(pred, 3, w)));
    } else {
      fmt::print(out, "   {}\n", wrap("predicted: no saving promised (a note, not a finding)", 3, w));
    }
    for (const std::string& note : f.notes)
      fmt::print(out, "   {}\n", wrap("note: " + printable(note), 3, w));
    if (f.replay && f.replay_rows.size() > 1) {
      std::string rows;
      for (const ReplayResult& r : f.replay_rows)
        rows += fmt::format("{}{}: {:.0f}", rows.empty() ? "" : ", ", size_text(r.buffer_size), r.syscalls_after);
      fmt::print(out, "   {}\n", wrap("replay (buffer: syscalls): " + rows, 3, w));
    }
    for (const StackView& sv : a.stacks) {
      fmt::print(out, "   stack ({} hit(s)):\n", sv.hits);
      for (const Frame& fr : sv.frames)
        for (const std::string& l : frame_lines(fr, SourcePaths::base))
          fmt::print(out, "     {}\n", wrap(printable(l), 7, w));
    }
    fmt::print(out, "\n");
  }
  if (findings.empty() && !m.filters.empty())
    fmt::print(out, "No findings in what the filters leave.\n\n");
  else if (findings.empty())
    fmt::print(out, "No findings: no call site does small I/O often enough.\n\n");
  if (m.coalesced_run) {
    fmt::print(out, "{}\n", c("1", "Coalescing (this run had the coalescer on): program calls vs syscalls"));
    for (const SiteAgg& a : m.sites) {
      if (!a.output || !(a.coalesced || !by_count(a.straight, 1).empty())) continue;
      if (m.hidden_sites.count(a.id)) continue;
      fmt::print(out, "  {}: {} calls, {} syscalls\n", printable(site_text(a)), a.calls, a.syscalls());
      if (const std::string why = flush_reasons_text(a); !why.empty())
        fmt::print(out, "    {}\n", wrap("flushes of its buffers: " + why, 4, w));
      if (a.syscalls())
        fmt::print(out, "    {}\n",
                   wrap(fmt::format("{} of its calls made their own syscall{}", a.syscalls(),
                                    straight_text(a)),
                        4, w));
    }
    fmt::print(out, "  valley's own flush writes: {}\n\n", m.flush_writes);
  }
  if (!m.unnamed_modules.empty()) {
    fmt::print(out, "{}\n", c("1", "Missing names"));
    for (const UnnamedModule& u : m.unnamed_modules)
      fmt::print(out, "  - {}\n", wrap(printable(unnamed_module_text(u)), 4, w));
    fmt::print(out, "\n");
  }
  fmt::print(out, "{}\n", c("1", "Blind spots"));
  for (const std::string& b : blind_spots(m))
    fmt::print(out, "  - {}\n", wrap(printable(b), 4, w));
  for (const Problem& p : m.problems)
    fmt::print(out, "  - {}\n", wrap(printable(fmt::format("{}: {}", p.file, p.message)), 4, w));
  (void)s;
}

// The non-zero counts of a per-reason array (from index `first` on) as (count, reason), most
// first: one order for the text and the JSON of flush and not-buffered reasons.
template <size_t N>
std::vector<std::pair<uint64_t, size_t>> by_count(const std::array<uint64_t, N>& counts,
                                                  size_t first) {
  std::vector<std::pair<uint64_t, size_t>> by;
  for (size_t r = first; r < N; ++r)
    if (counts[r]) by.push_back({counts[r], r});
  std::stable_sort(by.begin(), by.end(), [](auto& x, auto& y) { return x.first > y.first; });
  return by;
}

// "buffer full 260, exit or thread end 1, …": the flushes of a site's buffers by reason, most
// first; "" without flush events.
std::string flush_reasons_text(const SiteAgg& a) {
  std::string out;
  for (const auto& [n, r] : by_count(a.flush_reasons, 0))
    out += fmt::format("{}{} {}", out.empty() ? "" : ", ",
                       flush_reason_name(static_cast<FlushReason>(r)), n);
  return out;
}

// ": call site not in sites 120 (setting: sites), …" for the calls the coalescer let go around
// its buffer, most first; "" when no event says why.
std::string straight_text(const SiteAgg& a) {
  std::string out;
  for (const auto& [n, r] : by_count(a.straight, 1)) {
    const auto why = static_cast<Straight>(r);
    out += fmt::format("{}{} {}", out.empty() ? ": " : ", ", straight_name(why), n);
    if (*straight_setting(why)) out += fmt::format(" (setting: {})", straight_setting(why));
  }
  return out;
}

nlohmann::json straight_json(const SiteAgg& a) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [n, r] : by_count(a.straight, 1)) j[straight_name(static_cast<Straight>(r))] = n;
  return j;
}

nlohmann::json flush_reasons_json(const SiteAgg& a) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [n, r] : by_count(a.flush_reasons, 0))
    j[flush_reason_name(static_cast<FlushReason>(r))] = n;
  return j;
}

void render_json(std::FILE* out, const RunModel& m, const std::vector<Finding>& findings,
                 const AdvisorSettings& s) {
  nlohmann::json j;
  j["schema_version"] = 2;
  j["run_dir"] = m.dir;
  j["runs"] = nlohmann::json::array();
  for (size_t r = 0; r < m.dirs.size(); ++r) {
    size_t n = 0;
    for (const ProcessSummary& p : m.processes)
      n += p.run == r;
    j["runs"].push_back({{"dir", m.dirs[r]}, {"processes", n}});
  }
  j["merged_by_path"] = m.merged_by_path;
  j["filters"] = m.filters;
  j["processes_left_out"] = m.processes_left_out;
  j["findings"] = nlohmann::json::array();
  for (const Finding& f : findings) {
    const SiteAgg& a = *f.site;
    nlohmann::json fj{{"rule", f.rule}, {"severity", f.severity}, {"summary", f.summary},
                      {"change", f.change}, {"language", language_name(f.language)},
                      {"idiom", f.idiom}, {"site", a.key}, {"site_text", site_text(a)},
                      {"location", frame_json(location(a))},
                      {"frame", frame_json(a.frame)}, {"shim_sites", a.shim_sites},
                      {"syscalls_before", f.before}, {"syscalls_after", f.after},
                      {"saved_ns", f.saved_ns}, {"saved_wait_ns", f.saved_wait_ns},
                      {"saved_wall_ns", f.saved_wall_ns()}, {"promise", f.promise},
                      {"notes", f.notes}, {"coalescible", f.coalescible}};
    fj["evidence"] = {{"op", op_name(static_cast<Op>(a.op))},
                      {"fd_kind", fd_kind_name(static_cast<FdKind>(a.kind))},
                      {"path", a.top_path()}, {"calls", a.calls}, {"bytes", a.bytes},
                      {"size_median", a.size_quantile(0.5)}, {"size_p90", a.size_quantile(0.9)},
                      {"gap_median_ns", a.gap_median_ns()}, {"time_ns", a.time_ns},
                      {"cost_ns", a.cost_ns}, {"wait_ns", a.wait_ns},
                      {"cost_from_events", a.cost_from_events}, {"shared_input", a.shared_input},
                      {"processes", a.pids.size()}, {"events", a.events}};
    fj["related"] = nlohmann::json::array();
    for (const SiteAgg* r : f.related) fj["related"].push_back(frame_json(location(*r)));
    fj["replay"] = nlohmann::json::array();
    for (const ReplayResult& r : f.replay_rows) fj["replay"].push_back(replay_json(r));
    if (f.replay) fj["chosen_buffer"] = replay_json(*f.replay);
    fj["coalescer_syscalls_after"] =
        f.coalescer_after ? nlohmann::json(*f.coalescer_after) : nlohmann::json(nullptr);
    fj["coalescer_note"] = f.coalescer_why;
    fj["stacks"] = nlohmann::json::array();
    for (const StackView& sv : a.stacks) {
      nlohmann::json frames = nlohmann::json::array();
      for (const Frame& fr : sv.frames) frames.push_back(frame_json(fr));
      fj["stacks"].push_back({{"hits", sv.hits}, {"frames", frames}});
    }
    j["findings"].push_back(fj);
  }
  j["sites"] = nlohmann::json::array();
  for (const SiteAgg& a : m.sites)
    if (!m.hidden_sites.count(a.id))
      j["sites"].push_back({{"site", a.key},
                            {"site_text", site_text(a)},
                            {"location", frame_json(location(a))},
                            {"frame", frame_json(a.frame)},
                            {"op", op_name(static_cast<Op>(a.op))},
                            {"fd_kind", fd_kind_name(static_cast<FdKind>(a.kind))},
                            {"calls", a.calls},
                            {"syscalls", a.syscalls()},
                            {"coalesced", a.coalesced},
                            {"bytes", a.bytes},
                            {"time_ns", a.time_ns},
                            {"cost_ns", a.cost_ns},
                            {"wait_ns", a.wait_ns},
                            {"processes", a.pids.size()},
                            {"flush_reasons", flush_reasons_json(a)},
                            {"not_buffered", straight_json(a)}});
  j["processes"] = nlohmann::json::array();
  for (const ProcessSummary& p : m.processes)
    j["processes"].push_back({{"trace", p.name},
                              {"run", p.run},
                              {"pid", p.pid},
                              {"program", p.program},
                              {"exe", p.exe},
                              {"readable", p.readable},
                              {"coverage_valid", p.coverage_valid},
                              {"kernel_reads", p.kernel_reads},
                              {"kernel_writes", p.kernel_writes},
                              {"seen_reads", p.seen_reads},
                              {"seen_writes", p.seen_writes},
                              {"events", p.events},
                              {"dropped", p.dropped},
                              {"torn", p.torn},
                              {"invalid", p.invalid},
                              {"flush_writes", p.flush_writes},
                              {"socket_calls", p.socket_calls},
                              {"copy_calls", p.copy_calls},
                              {"duration_ns", p.duration_ns}});
  j["coalesced_run"] = m.coalesced_run;
  j["wall_ns"] = m.wall_ns;
  j["flush_writes"] = m.flush_writes;
  j["blind_spots"] = blind_spots(m);
  j["unnamed_modules"] = nlohmann::json::array();
  for (const UnnamedModule& u : m.unnamed_modules) {
    const bool known = !u.package.empty();
    j["unnamed_modules"].push_back(
        {{"path", u.path}, {"build_id", u.build_id},
         {"package", known ? nlohmann::json(u.package) : nlohmann::json(nullptr)},
         {"debug_package",
          known ? nlohmann::json(dbgsym_package(u.package)) : nlohmann::json(nullptr)},
         {"text", unnamed_module_text(u)}});
  }
  j["problems"] = nlohmann::json::array();
  for (const Problem& p : m.problems) j["problems"].push_back({{"file", p.file}, {"message", p.message}});
  j["settings"] = {{"min_calls", s.min_calls}, {"max_age_ms", s.max_age_ms}, {"buffer_sizes", s.buffer_sizes}};
  fmt::print(out, "{}\n", json_text(j, 2));
}

// Why two runs may not be comparable: their first processes ran different programs.
std::string compare_warning(const RunModel& a, const RunModel& b) {
  if (a.processes.empty() || b.processes.empty()) return "";
  const ProcessSummary& x = a.processes.front();
  const ProcessSummary& y = b.processes.front();
  if (x.exe == y.exe && x.program == y.program) return "";
  return fmt::format("the runs are of different commands ({} started {}, {} started {}): call "
                     "sites are matched by module and offset, so most will not match",
                     a.dir, x.program.empty() ? x.exe : x.program, b.dir,
                     y.program.empty() ? y.exe : y.program);
}

void render_compare(std::FILE* out, const RunModel& a, const RunModel& b, bool json,
                    const std::map<std::string, double>& predicted) {
  struct Row {
    const SiteAgg* before = nullptr;
    const SiteAgg* after = nullptr;
  };
  std::map<std::string, Row> rows;
  for (const SiteAgg& s : a.sites) rows[s.key].before = &s;
  for (const SiteAgg& s : b.sites) rows[s.key].after = &s;
  auto calls = [](const SiteAgg* s) { return s ? s->calls : 0; };
  auto sys = [](const SiteAgg* s) { return s ? s->syscalls() : 0; };
  auto ns = [](const SiteAgg* s) { return s ? s->time_ns : 0.0; };
  std::vector<std::pair<std::string, Row>> sorted(rows.begin(), rows.end());
  std::stable_sort(sorted.begin(), sorted.end(), [&](const auto& x, const auto& y) {
    return sys(x.second.before) + sys(x.second.after) > sys(y.second.before) + sys(y.second.after);
  });
  if (json) {
    nlohmann::json j{{"schema_version", 1}, {"before", a.dir}, {"after", b.dir},
                     {"flush_writes_before", a.flush_writes}, {"flush_writes_after", b.flush_writes},
                     {"warning", compare_warning(a, b)}};
    j["sites"] = nlohmann::json::array();
    for (const auto& [key, r] : sorted) {
      const SiteAgg* any = r.before ? r.before : r.after;
      const auto p = predicted.find(key);
      j["sites"].push_back({{"site", key}, {"location", frame_json(location(*any))},
                            {"calls_before", calls(r.before)}, {"calls_after", calls(r.after)},
                            {"syscalls_before", sys(r.before)}, {"syscalls_after", sys(r.after)},
                            {"syscalls_predicted", p == predicted.end() ? nlohmann::json(nullptr)
                                                                        : nlohmann::json(p->second)},
                            {"time_ns_before", ns(r.before)}, {"time_ns_after", ns(r.after)}});
    }
    fmt::print(out, "{}\n", json_text(j, 2));
    return;
  }
  fmt::print(out, "valley report --compare: before {} / after {}\n", printable(a.dir),
             printable(b.dir));
  if (const std::string w = compare_warning(a, b); !w.empty())
    fmt::print(out, "warning: {}\n", printable(w));
  fmt::print(out, "\n{:>10} {:>10} {:>10} {:>10} {:>10}  {}\n", "syscalls", "-> after", "predicted",
             "time", "-> after", "call site (op, fd kind)");
  for (const auto& [key, r] : sorted) {
    const SiteAgg* any = r.before ? r.before : r.after;
    const auto p = predicted.find(key);
    const std::string pred = p == predicted.end() ? "" : fmt::format("{:.0f}", p->second);
    fmt::print(out, "{:>10} {:>10} {:>10} {:>10} {:>10}  {} ({}, {})\n", sys(r.before),
               sys(r.after), pred, format_ns(ns(r.before)), format_ns(ns(r.after)),
               printable(site_text(*any)), op_name(static_cast<Op>(any->op)),
               fd_kind_name(static_cast<FdKind>(any->kind)));
  }
  fmt::print(out, "{:>10} {:>10} {:>10} {:>10} {:>10}  valley's own flush writes\n", a.flush_writes, b.flush_writes, "", "", "");
  if (!predicted.empty())
    fmt::print(out, "(predicted: the syscalls `valley report --emit-config` on the first run "
                    "expects of the sites it lists, with the flushes that carry their calls; a "
                    "coalesced run counts those as valley's own flush writes)\n");
}

} // namespace valley::advisor
