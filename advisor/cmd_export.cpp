// SPDX-License-Identifier: MIT
/// @file cmd_export.cpp
/// @brief `valley export --format perfetto|jsonl -o FILE [RUN_DIR]`: the run for other tools.
#include "commands.h"
#include "export.h"
#include "filters.h"
#include "output_file.h"
#include "text.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace valley::advisor {
namespace fs = std::filesystem;

const char* const kExportHelp =
    R"(usage: valley export --format perfetto|jsonl -o FILE [options] [RUN_DIR]

Write the run in RUN_DIR (default: the newest ./valley.* directory) for other tools. The
output is streamed: memory does not grow with the number of events.

  --format perfetto  a Chrome/Perfetto trace (JSON): open it in ui.perfetto.dev or
                     chrome://tracing. One track per thread, one slice per call, the
                     coalescer's flushes as slices, bytes/s per fd as counters
                     (advisor/export-perfetto.md)
  --format jsonl     JSON Lines for DuckDB, ClickHouse, Spark, BigQuery…: one object per
                     run, process, counter row (symbolized) and problem
                     (advisor/export-jsonl.md)
  -o FILE            where to write ('-': standard output); FILE is replaced only once
                     the export is complete
  --events           jsonl: also one object per event
  --from SECONDS     only calls that begin this long after the run began (or later)
  --to SECONDS       only calls that begin at most this long after the run began
  --pid PID          only this process (repeat it, or PID,PID,…, for several)
  --command GLOB     only processes whose argv[0] or executable file name (no directory)
                     matches the fnmatch(3) GLOB; repeat it for any of several

Exit status: 0 on success (problems in traces are reported on stderr), 1 if nothing
could be exported or written, 2 for bad arguments.
)";

namespace {

struct ExportArgs {
  ExportOptions o;
  std::string output;
};


int64_t seconds_arg(const char* name, const std::string& v) {
  double s = 0;
  const char* end = v.data() + v.size();
  auto [p, ec] = std::from_chars(v.data(), end, s);
  if (ec != std::errc() || p != end || !std::isfinite(s) || s < 0 || s > 1e9)
    throw UsageError(fmt::format(
        "export: {} takes seconds since the run began (a number from 0 to 1e9), not '{}'", name,
        printable(v)));
  return static_cast<int64_t>(std::llround(s * 1e9));
}

ExportArgs parse_args(Args args) {
  ExportArgs a;
  bool format_seen = false, dir_seen = false, options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& s = args[i];
    auto value = [&](const char* name) -> std::string {
      const std::string eq = std::string(name) + "=";
      if (s.starts_with(eq)) return s.substr(eq.size());
      if (i + 1 == args.size()) throw UsageError(fmt::format("export: {} needs a value", name));
      return args[++i];
    };
    auto is = [&](const char* name) { return s == name || s.starts_with(std::string(name) + "="); };
    if (options_done || s.empty() || s[0] != '-') {
      if (dir_seen)
        throw UsageError(
            fmt::format("export: one run directory expected, got '{}' and '{}'", a.o.dir, s));
      a.o.dir = s;
      dir_seen = true;
    } else if (s == "--") {
      options_done = true;
    } else if (is("--format")) {
      const std::string v = value("--format");
      if (v == "perfetto")
        a.o.format = ExportOptions::Format::perfetto;
      else if (v == "jsonl")
        a.o.format = ExportOptions::Format::jsonl;
      else
        throw UsageError(
            fmt::format("export: unknown format '{}' (perfetto or jsonl)", printable(v)));
      format_seen = true;
    } else if (s == "-o" || is("--output")) {
      a.output = s == "-o" ? value("-o") : value("--output");
      if (a.output.empty()) throw UsageError("export: -o needs a file name");
    } else if (s == "--events") {
      a.o.events = true;
    } else if (is("--from")) {
      a.o.from_ns = seconds_arg("--from", value("--from"));
    } else if (is("--to")) {
      a.o.to_ns = seconds_arg("--to", value("--to"));
    } else if (is("--pid")) {
      parse_pids("export: --pid", value("--pid"), a.o.pids);
    } else if (is("--command")) {
      a.o.commands.push_back(parse_glob("export: --command", value("--command")));
    } else {
      throw UsageError(fmt::format("export: unknown option '{}'", printable(s)));
    }
  }
  if (!format_seen) throw UsageError("export: --format perfetto or --format jsonl is required");
  if (a.output.empty()) throw UsageError("export: -o FILE is required ('-o -': standard output)");
  if (a.o.events && a.o.format != ExportOptions::Format::jsonl)
    throw UsageError("export: --events is for --format jsonl (a Perfetto trace has every event)");
  if (a.o.from_ns && a.o.to_ns && *a.o.to_ns < *a.o.from_ns)
    throw UsageError("export: --to is before --from");
  if (!dir_seen) {
    a.o.dir = newest_run_dir();
    if (a.o.dir.empty())
      throw UsageError("export: no run directory given and no ./valley.* directory here");
  }
  return a;
}

} // namespace

int run_export(Args args) {
  ExportArgs a = parse_args(args);
  OutputFile out(a.output, a.o.dir);
  ExportSummary sum = a.o.format == ExportOptions::Format::perfetto
                          ? write_perfetto(a.o, out.file())
                          : write_jsonl(a.o, out.file());
  constexpr size_t kShown = 20;
  for (size_t i = 0; i < sum.problems.size() && i < kShown; ++i)
    fmt::print(stderr, "valley: warning: {}\n", printable(sum.problems[i]));
  if (sum.problems.size() > kShown)
    fmt::print(stderr, "valley: warning: {} more problems (valley dump shows them all)\n",
               sum.problems.size() - kShown);
  if (sum.out_of_range)
    fmt::print(stderr, "valley: warning: {} events left out: their times are not plausible\n",
               sum.out_of_range);
  if (sum.overlapping)
    fmt::print(stderr,
               "valley: warning: {} calls overlap another call of their thread only in part "
               "(damaged times?); they are instant events, not slices\n",
               sum.overlapping);
  if (sum.processes == 0) {
    fmt::print(stderr, "valley: error: no process of {} to export{}\n", printable(a.o.dir),
               a.o.pids.empty() && a.o.commands.empty() ? "" : " matching --pid/--command");
    return 1;
  }
  out.commit();
  if (a.output != "-")
    fmt::print(stderr, "valley: exported {} process{} ({} records) to {}\n", sum.processes,
               sum.processes == 1 ? "" : "es", sum.records, printable(a.output));
  return 0;
}

} // namespace valley::advisor
