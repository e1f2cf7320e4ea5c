// SPDX-License-Identifier: MIT
/// @file cmd_dump.cpp
/// @brief `valley dump [--json] [--events N|all] [--no-events] DIR`: every process, module, call
/// site, counter and event of a run directory.
#include "commands.h"
#include "dump.h"

#include "text.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>

namespace valley::advisor {

const char* const kDumpHelp =
    R"(usage: valley dump [--json] [--events N|all] [--no-events] [--pid PID] [--command GLOB]
                   [--site SPEC] [--sort calls|time] DIR

Print everything recorded in the run directory DIR: per process its origin, command,
state, coverage and losses, then its modules, call sites with symbolized stacks,
counters, files and events.

  --json        machine-readable output (schema: advisor/dump-json.md)
  --events N    list the first N events of the run (default: 1000 in text, all in JSON);
                'all' lists every one. Events left out are still read, checked and counted
  --no-events   omit the event list (counts are still checked and shown)
  --pid PID     only these processes (repeat it, or PID,PID,...)
  --command GLOB
                only processes whose argv[0] or executable file name (no directory)
                matches the fnmatch(3) GLOB, e.g. 'python3*'; repeat it for any of several
  --site SPEC   only these call sites, their counter rows and their events (the
                coalescer's flushes are no site's): MODULE+0xOFFSET, FILE:LINE (a file name
                or the end of its path) or a FUNCTION name; repeat it for any of several
  --sort calls|time
                counter rows by program calls or by time in syscalls, most first (default:
                table order). A dump predicts nothing, so there is no --sort saving and no
                --min-saving: those are valley report's

Exit status: 0 if every trace was read cleanly, 1 if anything was wrong with a trace
(everything readable is still printed) or no process matches --pid/--command, 2 for bad
arguments.
)";

namespace {

/// Events a text dump lists unless told otherwise: `dd bs=1 count=200000` would print 36 MB.
constexpr uint64_t kTextEvents = 1000;

uint64_t events_arg(const std::string& v) {
  if (v == "all") return UINT64_MAX;
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size())
    throw UsageError(
        fmt::format("dump: --events takes a number of events or 'all', not '{}'", printable(v)));
  return n;
}

DumpOptions parse_args(Args args) {
  DumpOptions o;
  bool dir_seen = false, options_done = false;
  std::optional<uint64_t> max_events;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* name) -> std::string {
      const std::string n = std::string(name) + "=";
      if (a.starts_with(n)) return a.substr(n.size());
      if (i + 1 == args.size()) throw UsageError(fmt::format("dump: {} needs a value", name));
      return args[++i];
    };
    if (!options_done && a == "--json") {
      o.json = true;
    } else if (!options_done && a == "--events") {
      if (i + 1 == args.size()) throw UsageError("dump: --events needs a number or 'all'");
      max_events = events_arg(args[++i]);
    } else if (!options_done && a.starts_with("--events=")) {
      max_events = events_arg(a.substr(9));
    } else if (!options_done && a == "--no-events") {
      o.events = false;
    } else if (!options_done && (a == "--pid" || a.starts_with("--pid="))) {
      parse_pids("dump: --pid", value("--pid"), o.processes.pids);
    } else if (!options_done && (a == "--command" || a.starts_with("--command="))) {
      o.processes.commands.push_back(parse_glob("dump: --command", value("--command")));
    } else if (!options_done && (a == "--site" || a.starts_with("--site="))) {
      o.sites.push_back(parse_site_spec("dump: --site", value("--site")));
    } else if (!options_done && (a == "--sort" || a.starts_with("--sort="))) {
      const std::string v = value("--sort");
      if (v == "saving")
        throw UsageError("dump: --sort takes calls or time: a dump predicts no savings (valley "
                         "report --sort saving does)");
      o.sort = parse_sort("dump: --sort", v);
    } else if (!options_done && (a == "--min-saving" || a.starts_with("--min-saving="))) {
      throw UsageError("dump: --min-saving is valley report's: a dump predicts no savings");
    } else if (!options_done && a == "--") {
      options_done = true;
    } else if (!options_done && a.size() > 1 && a[0] == '-') {
      throw UsageError(fmt::format("dump: unknown option '{}'", a));
    } else if (dir_seen) {
      throw UsageError(
          fmt::format("dump: one run directory expected, got '{}' and '{}'", o.dir, a));
    } else {
      o.dir = a;
      dir_seen = true;
    }
  }
  if (!dir_seen) throw UsageError("dump: missing run directory");
  o.max_events = max_events.value_or(o.json ? UINT64_MAX : kTextEvents);
  if (o.processes.active()) o.filters.push_back(o.processes.describe());
  if (!o.sites.empty()) {
    std::string spec;
    for (const SiteSpec& s : o.sites)
      spec += fmt::format("{}--site {}", spec.empty() ? "" : " ", s.text);
    o.filters.push_back(spec);
  }
  if (o.sort) o.filters.push_back(fmt::format("--sort {}", sort_name(*o.sort)));
  return o;
}

} // namespace

namespace {

// --site: the sites of `model` it names (the rest are erased), else every one.
void narrow_sites(const DumpOptions& o, TraceModel& model) {
  if (o.sites.empty()) return;
  std::erase_if(model.sites, [&](const auto& kv) {
    const SiteModel& m = kv.second;
    return !site_matches(o.sites, m.frame, m.caller) &&
           !(!m.python.empty() && site_matches(o.sites, m.location(), std::nullopt));
  });
  model.orphan_stacks.clear();
}

std::vector<const CounterEntry*> counters_shown(const DumpOptions& o, const Trace& t,
                                                const TraceModel* model) {
  std::vector<const CounterEntry*> out;
  for (const CounterEntry& c : t.counters) {
    if (!o.sites.empty() &&
        (c.data.key == kCatchAllKey || !model || !model->site(key_site(c.data.key))))
      continue;
    out.push_back(&c);
  }
  if (o.sort)
    std::stable_sort(out.begin(), out.end(), [&](const CounterEntry* x, const CounterEntry* y) {
      return *o.sort == SortKey::time ? x->data.ticks > y->data.ticks
                                      : x->data.calls > y->data.calls;
    });
  return out;
}

} // namespace

size_t write_dump(const DumpOptions& o, std::FILE* stream) {
  RunDir run = read_run_dir(o.dir);
  if (run.traces.empty() && run.problems.empty())
    throw std::runtime_error(fmt::format("{}: no traces here (no <pid>-<n>.vseg files)", o.dir));

  std::unique_ptr<DumpRenderer> out =
      o.json ? make_json_renderer(stream, o) : make_text_renderer(stream, o);
  auto selected = [&](const Trace& t, const std::optional<ProcessInfo>& info) {
    return !o.processes.active() ||
           o.processes.matches(t.pid, info ? info->argv : std::vector<std::string>{},
                               info ? std::string(fixed_string(t.header.exe)) : std::string());
  };
  if (o.processes.active() &&
      std::none_of(run.traces.begin(), run.traces.end(), [&](const Trace& t) {
        return selected(t, t.header_valid ? std::optional(describe(t, run)) : std::nullopt);
      }))
    throw std::runtime_error(
        fmt::format("no process of {} matches {}", o.dir, o.processes.describe()));
  Symbolizer symbolizer;
  size_t problems = run.problems.size();
  uint64_t listed = 0;
  out->begin_run(run);
  for (const Trace& t : run.traces) {
    std::optional<ProcessInfo> info;
    std::optional<TraceModel> model;
    if (t.header_valid) info = describe(t, run);
    if (!selected(t, info)) continue;
    if (t.header_valid) {
      model = build_trace_model(t, symbolizer);
      narrow_sites(o, *model);
    }
    ProcessView view{t, info ? &*info : nullptr, model ? &*model : nullptr,
                     info ? info->clock.ns_per_tick : 1.0,
                     counters_shown(o, t, model ? &*model : nullptr)};
    out->begin_process(view);
    std::vector<Problem> trace_problems = t.problems;
    EventTally tally = read_events(
        t,
        [&](const EventRecord& e, EventSource src) {
          if (!o.sites.empty() && (!model || !model->site(e.site))) return;
          if (o.events && listed < o.max_events) {
            ++listed;
            out->event(view, e, src);
          }
        },
        trace_problems);
    out->end_process(view, tally, trace_problems);
    problems += trace_problems.size();
  }
  out->end_run(run.problems, problems);
  return problems;
}

int run_dump(Args args) {
  DumpOptions o = parse_args(args);
  size_t problems = write_dump(o, stdout);
  if (std::fflush(stdout) != 0 || std::ferror(stdout))
    throw std::runtime_error("cannot write the output");
  if (problems > 0) {
    fmt::print(stderr, "valley: error: {} problem(s) in the traces of {}; shown with the output\n",
               problems, o.dir);
    return 1;
  }
  return 0;
}

} // namespace valley::advisor
