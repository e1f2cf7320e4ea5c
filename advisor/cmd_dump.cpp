// SPDX-License-Identifier: MIT
/// @file cmd_dump.cpp
/// @brief `valley dump [--json] [--events N|all] [--no-events] DIR`: every process, module, call
/// site, counter and event of a run directory.
#include "commands.h"
#include "dump.h"

#include "text.h"

#include <fmt/format.h>

#include <charconv>
#include <optional>

namespace valley::advisor {

const char* const kDumpHelp =
    R"(usage: valley dump [--json] [--events N|all] [--no-events] DIR

Print everything recorded in the run directory DIR: per process its origin, command,
state, coverage and losses, then its modules, call sites with symbolized stacks,
counters, files and events.

  --json        machine-readable output (schema: advisor/dump-json.md)
  --events N    list the first N events of the run (default: 1000 in text, all in JSON);
                'all' lists every one. Events left out are still read, checked and counted
  --no-events   omit the event list (counts are still checked and shown)

Exit status: 0 if every trace was read cleanly, 1 if anything was wrong with a trace
(everything readable is still printed), 2 for bad arguments.
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
    if (!options_done && a == "--json") {
      o.json = true;
    } else if (!options_done && a == "--events") {
      if (i + 1 == args.size()) throw UsageError("dump: --events needs a number or 'all'");
      max_events = events_arg(args[++i]);
    } else if (!options_done && a.starts_with("--events=")) {
      max_events = events_arg(a.substr(9));
    } else if (!options_done && a == "--no-events") {
      o.events = false;
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
  return o;
}

} // namespace

size_t write_dump(const DumpOptions& o, std::FILE* stream) {
  RunDir run = read_run_dir(o.dir);
  if (run.traces.empty() && run.problems.empty())
    throw std::runtime_error(fmt::format("{}: no traces here (no <pid>-<n>.vseg files)", o.dir));

  std::unique_ptr<DumpRenderer> out =
      o.json ? make_json_renderer(stream, o) : make_text_renderer(stream, o);
  Symbolizer symbolizer;
  size_t problems = run.problems.size();
  uint64_t listed = 0;
  out->begin_run(run);
  for (const Trace& t : run.traces) {
    std::optional<ProcessInfo> info;
    std::optional<TraceModel> model;
    if (t.header_valid) {
      info = describe(t, run);
      model = build_trace_model(t, symbolizer);
    }
    ProcessView view{t, info ? &*info : nullptr, model ? &*model : nullptr,
                     info ? info->clock.ns_per_tick : 1.0};
    out->begin_process(view);
    std::vector<Problem> trace_problems = t.problems;
    EventTally tally = read_events(
        t,
        [&](const EventRecord& e, EventSource src) {
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
