// SPDX-License-Identifier: MIT
/// @file cmd_report.cpp
/// @brief `valley report [RUN_DIR] [--format text|json|html] [-o FILE] [--config FILE]
/// [--emit-config FILE]`:
/// findings ranked by predicted saving, with evidence, change, replay and blind spots.
#include "commands.h"
#include "filters.h"
#include "output_file.h"
#include "report.h"
#include "report_html.h"
#include "text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sys/ioctl.h>
#include <unistd.h>

namespace valley::advisor {

const char* const kReportHelp =
    R"(usage: valley report [RUN_DIR...] [--format text|json|html] [-o FILE [--force]]
                     [--config FILE] [--pid PID] [--command GLOB] [--site SPEC]
                     [--min-saving DURATION] [--sort saving|calls|time]
                     [--emit-config FILE [--force]]
       valley report --compare RUN_A RUN_B [--format text|json|html] [-o FILE [--force]]

Read every process of the run in RUN_DIR (default: the newest ./valley.* directory, as
'valley run' names them), merge call sites across
processes, and report what to change: small writes, write bursts before reads, small reads,
sequential small preads, unbatched datagrams. Each finding names the call site, the evidence,
the change and the syscalls it saves, predicted by replaying the recorded events.

Several RUN_DIRs (the same program on several hosts or days) make one report: their counts
add up, and a call site of one run is the same as another's only when its module has the same
build-id (modules without one: the same path; the report lists those).

  --format text|json|html
                       text (default; colour on a terminal unless NO_COLOR is set), JSON
                       (schema: advisor/report-json.md) or one self-contained HTML page with
                       plots (histograms, a timeline per process, thread and fd)
  -o, --output FILE    write the report to FILE instead of stdout; an existing FILE is kept
                       unless --force is given
  --config FILE        thresholds from FILE's [advisor] table (see config/valley.toml)
  --pid PID            only these processes (repeat it, or PID,PID,...); with several runs,
                       a PID of any of them
  --command GLOB       only processes whose argv[0] or executable file name (no directory)
                       matches the fnmatch(3) GLOB, e.g. 'python3*'; repeat it for any of
                       several
  --site SPEC          only findings at this call site (or with it as their related site):
                       MODULE+0xOFFSET as the report prints it, FILE:LINE (a file name or
                       the end of its path) or a FUNCTION name; repeat it for any of several
  --min-saving DURATION
                       only findings predicted to save at least DURATION of wall time, e.g.
                       200us, 5ms, 1.5s (units: ns, us, ms, s); notes promise none
  --sort saving|calls|time
                       order of the findings: predicted saving (default), program calls or
                       time in syscalls of their call site, most first
  --emit-config FILE   write a valley.toml whose [coalesce] table turns the shim's coalescer
                       on for the sites where the replay says it is safe and worth it, and
                       print what it holds and leaves out instead of the text report; one
                       RUN_DIR and no --pid, --command, --site or --min-saving
  --force              let -o and --emit-config replace an existing FILE
  --compare A B        per call site, program calls, syscalls and time in syscalls of run A
                       (before) next to run B (after), e.g. without and with the coalescer;
                       no other RUN_DIR and no filters

Exit status: 0 on success (problems in traces are reported, other processes still shown),
1 if nothing could be read (or no process matches --pid/--command), 2 for bad arguments or a
bad config file.
)";

namespace {

struct ReportOptions {
  std::vector<std::string> dirs;
  bool json = false, html = false;
  std::string output;
  std::string config, emit;
  bool force = false;
  std::vector<std::string> compare;
  bool dir_given = false;
  ProcessFilter processes;
  std::vector<SiteSpec> sites;
  std::optional<double> min_saving_ns;
  std::string min_saving_text;
  SortKey sort = SortKey::saving;
};

ReportOptions parse_args(Args args) {
  ReportOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* name) -> std::string {
      std::string n = std::string(name) + "=";
      if (a.starts_with(n)) return a.substr(n.size());
      if (i + 1 == args.size()) throw UsageError(fmt::format("report: {} needs a value", name));
      return args[++i];
    };
    auto is = [&](const char* name) { return a == name || a.starts_with(std::string(name) + "="); };
    if (is("--format")) {
      std::string v = value("--format");
      if (v != "text" && v != "json" && v != "html")
        throw UsageError(fmt::format("report: unknown format '{}' (text, json or html)", v));
      o.json = v == "json";
      o.html = v == "html";
    } else if (a == "-o" || is("--output")) {
      o.output = a == "-o" ? value("-o") : value("--output");
      if (o.output.empty()) throw UsageError("report: -o needs a file name");
    } else if (is("--config")) {
      o.config = value("--config");
    } else if (is("--emit-config")) {
      o.emit = value("--emit-config");
    } else if (a == "--force") {
      o.force = true;
    } else if (is("--pid")) {
      parse_pids("report: --pid", value("--pid"), o.processes.pids);
    } else if (is("--command")) {
      o.processes.commands.push_back(parse_glob("report: --command", value("--command")));
    } else if (is("--site")) {
      o.sites.push_back(parse_site_spec("report: --site", value("--site")));
    } else if (is("--min-saving")) {
      o.min_saving_text = value("--min-saving");
      o.min_saving_ns = parse_duration("report: --min-saving", o.min_saving_text);
    } else if (is("--sort")) {
      o.sort = parse_sort("report: --sort", value("--sort"));
    } else if (a == "--compare") {
      if (i + 2 >= args.size()) throw UsageError("report: --compare needs two run directories");
      o.compare = {args[i + 1], args[i + 2]};
      i += 2;
    } else if (a.size() > 1 && a[0] == '-') {
      throw UsageError(fmt::format("report: unknown option '{}'", a));
    } else {
      for (const std::string& d : o.dirs) {
        std::error_code ec;
        if (d == a || std::filesystem::equivalent(d, a, ec))
          throw UsageError(fmt::format("report: run directory '{}' given twice (its calls would "
                                       "count twice)",
                                       printable(a)));
      }
      o.dirs.push_back(a);
    }
  }
  o.dir_given = !o.dirs.empty();
  if (o.force && o.emit.empty() && o.output.empty())
    throw UsageError("report: --force goes with -o or --emit-config");
  if (!o.emit.empty() && (o.html || !o.output.empty()))
    throw UsageError("report: --emit-config prints what it wrote, not a report; it takes no -o "
                     "or --format html");
  if (o.dirs.size() > 1 && !o.emit.empty())
    throw UsageError("report: --emit-config takes one run directory: a config is for one "
                     "program's run, and the sites of several runs may be different builds");
  if (!o.compare.empty() &&
      (o.processes.active() || !o.sites.empty() || o.min_saving_ns || o.sort != SortKey::saving))
    throw UsageError("report: --compare shows every site of both runs; --pid, --command, "
                     "--site, --min-saving and --sort go with a report of run directories");
  if (!o.emit.empty() && (o.processes.active() || !o.sites.empty() || o.min_saving_ns))
    throw UsageError("report: --emit-config acts on every finding of the run; --pid, "
                     "--command, --site and --min-saving would leave sites out of the config "
                     "silently");
  if (!o.dir_given && o.compare.empty()) {
    std::string newest = newest_run_dir();
    if (!newest.empty()) o.dirs.push_back(newest);
  }
  return o;
}

// --site, --min-saving and --sort: the findings and sites the output shows, in its order.
void narrow(RunModel& m, std::vector<Finding>& findings, const ReportOptions& o) {
  if (o.processes.active())
    m.filters.push_back(
        fmt::format("{}: {} process(es) left out", o.processes.describe(), m.processes_left_out));
  if (!o.sites.empty()) {
    std::string spec;
    for (const SiteSpec& s : o.sites)
      spec += fmt::format("{}--site {}", spec.empty() ? "" : " ", s.text);
    for (const SiteAgg& a : m.sites)
      if (!site_matches(o.sites, a.frame, a.caller) &&
          !(a.python && site_matches(o.sites, *a.python, std::nullopt)))
        m.hidden_sites.insert(a.id);
    std::erase_if(findings, [&](const Finding& f) {
      if (m.hidden_sites.count(f.site->id) == 0) return false;
      for (const SiteAgg* r : f.related)
        if (m.hidden_sites.count(r->id) == 0) return false;
      return true;
    });
    m.filters.push_back(fmt::format("{}: {} of {} call site(s)", spec,
                                    m.sites.size() - m.hidden_sites.size(), m.sites.size()));
  }
  if (o.min_saving_ns) {
    const size_t before = findings.size();
    std::erase_if(findings, [&](const Finding& f) {
      return f.saved_wall_ns() < *o.min_saving_ns; // a note's is 0
    });
    m.filters.push_back(fmt::format("--min-saving {}: {} finding(s) saving less left out",
                                    o.min_saving_text, before - findings.size()));
  }
  if (o.sort != SortKey::saving) {
    std::stable_sort(findings.begin(), findings.end(), [&](const Finding& x, const Finding& y) {
      if (o.sort == SortKey::calls) return x.site->calls > y.site->calls;
      return x.site->time_ns > y.site->time_ns;
    });
    m.filters.push_back(fmt::format(
        "--sort {}: findings by the {} of their call site, most first", sort_name(o.sort),
        o.sort == SortKey::calls ? "program calls" : "time in syscalls"));
  }
}

void print_emit_summary(std::FILE* out, const std::string& path, const std::string& dir,
                        const EmittedConfig& e) {
  if (e.sites == 0) {
    fmt::print(out, "valley: wrote {}: coalescing stays off (no finding the coalescer can act on)\n",
               printable(path));
  } else {
    std::string kinds;
    for (const std::string& k : e.kinds) kinds += (kinds.empty() ? "" : ", ") + k;
    fmt::print(out, "valley: wrote {}: coalescing on for {} call site{} (fd kinds: {}{})\n",
               printable(path), e.sites, e.sites == 1 ? "" : "s", kinds.empty() ? "file" : kinds,
               e.stdio ? "; stdout/stderr included" : "");
    for (const std::string& l : e.listed) fmt::print(out, "  {}\n", printable(l));
  }
  if (!e.left_out.empty()) {
    fmt::print(out, "left out:\n");
    for (const std::string& l : e.left_out) fmt::print(out, "  {}\n", printable(l));
  }
  if (e.sites)
    fmt::print(out, "next: valley run --config {} -- COMMAND, then valley report --compare {} NEW_RUN\n",
               printable(path), printable(dir));
}

} // namespace

int run_report(Args args) {
  ReportOptions o = parse_args(args);
  std::error_code same_ec;
  if (!o.emit.empty() && !o.config.empty() &&
      std::filesystem::equivalent(o.emit, o.config, same_ec))
    throw UsageError(
        fmt::format("report: --emit-config {} would overwrite the --config file", o.emit));
  std::error_code exists_ec;
  if (!o.emit.empty() && !o.force && std::filesystem::exists(std::filesystem::symlink_status(o.emit, exists_ec)))
    throw UsageError(fmt::format("report: --emit-config {} exists; --force replaces it", printable(o.emit)));
  if (!o.output.empty() && o.output != "-" && !o.config.empty() &&
      std::filesystem::equivalent(o.output, o.config, same_ec))
    throw UsageError(fmt::format("report: -o {} would overwrite the --config file", printable(o.output)));
  if (!o.output.empty() && o.output != "-" && !o.force &&
      std::filesystem::exists(std::filesystem::symlink_status(o.output, exists_ec)))
    throw UsageError(fmt::format("report: -o {} exists; --force replaces it", printable(o.output)));
  // Opened once the report is built: a run that cannot be read leaves no file behind.
  std::optional<OutputFile> file;
  auto sink = [&](const std::string& run_dir) -> std::FILE* {
    if (o.output.empty()) return stdout;
    file.emplace(o.output, run_dir);
    return file->file();
  };
  Settings settings;
  if (!o.config.empty()) {
    try {
      settings = load_settings(o.config);
    } catch (const SettingsError& e) {
      fmt::print(stderr, "valley: error: {}\n", e.what());
      return 2;
    }
  }
  if (!o.compare.empty()) {
    if (o.dir_given) throw UsageError("report: --compare takes the two runs; no other run directory");
    RunModel a = build_report_model(o.compare[0], settings.advisor);
    RunModel b = build_run_model(o.compare[1], settings.advisor, {});
    // What run A's --emit-config would predict for the sites it lists (when B ran with it).
    std::map<std::string, double> predicted;
    for (const Finding& f : evaluate_rules(a, settings.advisor)) {
      if (!f.coalescible || !f.promise || !f.coalescer_why.empty()) continue;
      predicted[f.site->key] = f.coalescer_after.value_or(f.after);
    }
    std::FILE* out = sink(o.compare[1]);
    if (o.html)
      render_compare_html(out, a, b, predicted);
    else
      render_compare(out, a, b, o.json, predicted);
    if (file) file->commit();
    return 0;
  }
  if (o.dirs.empty())
    throw UsageError("report: no run directory given and no ./valley.* directory here");
  std::vector<const AnalysisDef*> analyses = rule_analyses();
  if (o.html) analyses.push_back(&kTimelineAnalysis);
  RunModel m = build_run_model(o.dirs, settings.advisor, analyses, o.processes);
  if (m.processes.empty() && m.problems.empty()) {
    if (m.processes_left_out)
      throw std::runtime_error(
          fmt::format("no process of {} matches {}", shell_join(o.dirs), o.processes.describe()));
    throw std::runtime_error(
        fmt::format("{}: no traces here (no <pid>-<n>.vseg files)", shell_join(o.dirs)));
  }
  std::vector<Finding> findings = evaluate_rules(m, settings.advisor);
  narrow(m, findings, o);
  find_packages(m.unnamed_modules);
  std::FILE* out = sink(m.dir);
  if (o.html) {
    render_html(out, m, findings, find_analysis<TimelineAnalysis>(m));
  } else if (o.json) {
    render_json(out, m, findings, settings.advisor);
  } else if (!o.emit.empty()) {
    // The report itself is one `valley report` away; this says what the config will do.
  } else {
    TextStyle st;
    const bool tty = out == stdout && ::isatty(STDOUT_FILENO);
    const char* no_colour = std::getenv("NO_COLOR");
    st.colour = tty && !(no_colour && *no_colour);
    winsize ws{};
    if (tty && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40) st.width = ws.ws_col;
    render_text(out, m, findings, settings.advisor, st);
  }
  if (!o.emit.empty()) {
    const EmittedConfig e = emit_config(findings, settings.advisor);
    OutputFile cfg(o.emit, m.dir);
    std::fputs(e.text.c_str(), cfg.file());
    cfg.commit();
    if (!o.json) print_emit_summary(stdout, o.emit, m.dir, e);
  }
  if (file) file->commit();
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) throw std::runtime_error("cannot write the output");
  for (const Problem& p : m.problems)
    fmt::print(stderr, "valley: warning: {}: {}\n", printable(p.file), printable(p.message));
  size_t readable = 0;
  for (const ProcessSummary& p : m.processes) readable += p.readable;
  return readable == 0 ? 1 : 0;
}

} // namespace valley::advisor
