// SPDX-License-Identifier: MIT
/// @file harness.h
/// @brief Differential runs of real programs: the same command line (or pipeline) once
/// without and once with libvalley.so preloaded, in the same fresh directory, compared byte
/// for byte; then the trace read back with `valley dump --json`.
///
/// Every stage runs as `timeout -k 2 60 env [LD_PRELOAD=… VALLEY_DIR=…] CMD ARGS`, so only
/// the target carries the preload (HAZARDS.md I-16) and a hang ends as a failure. The
/// environment is built from scratch (PATH=/usr/bin:/bin, LC_ALL=C, TZ=UTC, a private HOME):
/// the programs are Debian's, and nothing of the caller's environment leaks in.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace valley::e2e {

namespace fs = std::filesystem;
using nlohmann::json;

using Argv = std::vector<std::string>;

/// What to run. Stages are connected by pipes (stdout of one to stdin of the next); the last
/// stage's stdout and every stage's stderr are captured.
struct Case {
  std::vector<Argv> stages;
  std::string stdin_file; ///< relative to the work directory; empty: /dev/null
  std::vector<std::string> env; ///< NAME=VALUE added to the base environment of every stage
  /// Creates the inputs in the (empty, current) work directory; runs before each of the runs.
  std::function<void(const fs::path& work)> setup;
  std::vector<std::string> out_files; ///< relative paths compared byte for byte (cmp)
  std::vector<std::string> out_dirs;  ///< relative paths compared with `diff -r`
  /// What the untraced run must end with, per stage ("exit 0", "signal SIGPIPE"); a case
  /// whose baseline does something else is wrong about its program, not about valley.
  std::vector<std::string> expect_status;
  /// Only for the harness's own tests: run these stages in the traced run instead.
  std::vector<Argv> traced_stages;
  /// `timeout`'s limit per stage; only the harness's own tests lower it.
  int timeout_seconds = 60;
};

/// How one stage ended, as from waitpid.
struct StageResult {
  int status = -1;
  std::string err;
};

struct RunResult {
  std::vector<StageResult> stages;
  std::string out;      ///< the last stage's stdout
  double seconds = 0;   ///< wall time of the whole pipeline
  bool deadline = false;///< the harness had to kill what `timeout` did not end
};

/// "exit 3", "signal SIGPIPE", or "timed out (exit 124 from timeout)".
std::string describe_status(int status);

/// Both runs of a case plus the trace of the second one. Owns a temporary directory:
///   work/    where each run happens (same absolute path both times, so paths in output agree)
///   base/    the work directory after the untraced run
///   traced/  the work directory after the traced run
///   trace/   VALLEY_DIR of the traced run
///   home/    HOME of both runs (emptied in between)
class Differential {
public:
  explicit Differential(Case c);
  ~Differential(); ///< removes the directory unless VALLEY_E2E_KEEP is set
  Differential(const Differential&) = delete;
  Differential& operator=(const Differential&) = delete;

  /// Every difference between the two runs, one line each; empty when they agree.
  /// Also reports a baseline that does not match `expect_status`.
  std::vector<std::string> differences() const;

  /// `valley dump --json` of the trace directory: its exit status and parsed output.
  int dump_status() const { return dump_status_; }
  const json& dump() const { return dump_; }
  const std::string& dump_stderr() const { return dump_err_; }

  const RunResult& base() const { return base_; }
  const RunResult& traced() const { return traced_; }
  const fs::path& root() const { return root_; }

private:
  RunResult run_once(const std::vector<Argv>& stages, bool traced);
  void fresh_work();

  Case case_;
  fs::path root_;
  RunResult base_, traced_;
  int dump_status_ = -1;
  std::string dump_err_;
  json dump_;
};

/// Runs stages as a pipeline, each under `timeout -k 2 60 env PREFIX… ARGV`, with the given
/// full environment. Exposed for the harness's own tests.
RunResult run_pipeline(const std::vector<Argv>& stages, const fs::path& cwd,
                       const std::string& stdin_file, const std::vector<std::string>& env,
                       const std::vector<std::string>& target_env, int timeout_seconds = 60);

/// The environment every stage starts from (before Case::env).
std::vector<std::string> base_environment(const fs::path& home);

// ---- reading the dump ----

/// The traces (process images) of the dump.
const json& traces(const json& dump);
/// Traces whose command's first word has this basename ("dd", "git", …).
std::vector<const json*> traces_of(const json& dump, const std::string& program);

/// Sums of the counter rows of one trace matching op and fd kind (empty = any).
struct Totals {
  uint64_t calls = 0, bytes = 0, requested = 0, errors = 0, zero_results = 0;
  std::vector<std::pair<std::string, uint64_t>> size_hist; ///< merged, by bucket key
  uint64_t size_bucket(const std::string& key) const;
};
/// Only the program's own calls: with coalescing on (VALLEY_E2E_TARGET_ENV="VALLEY_COALESCE=1"),
/// calls the coalescer absorbed still count, but valley's flush writes (site kSiteFlush) do
/// not, so the program's counts are the same in every shim mode.
Totals totals(const json& trace, const std::string& op, const std::string& kind = "");
/// Sum over several ops: e.g. {"pwrite", "pwrite64"}. `flushes`: valley's flush writes instead
/// of the program's calls.
Totals totals_any(const json& trace, const std::vector<std::string>& ops, const std::string& kind,
                  bool flushes = false);
/// valley's own writes that flushed coalesced bytes (none when coalescing is off).
Totals flush_totals(const json& trace, const std::string& kind = "");
/// Whether a counter row's site, or an event, is one of valley's flush writes.
bool is_flush_site(const json& site);
bool is_flush_event(const json& event);

/// Checks that hold for every trace of every case, one line per violation:
///   the dump is clean (exit 0, no problems), every trace readable;
///   a trace's state is "finished" or "exec" unless its program is in `may_die`;
///   counters and events agree (calls = events read + dropped);
///   coverage, when measured, never claims more calls or bytes than the kernel counted.
std::vector<std::string> trace_violations(const Differential& d,
                                          const std::vector<std::string>& may_die = {});

/// Joins lines for an assertion message.
std::string join(const std::vector<std::string>& lines);

/// Runs the case, checks (as gtest expectations) that both runs agree and that the trace passes
/// trace_violations, and returns it for case-specific checks.
std::unique_ptr<Differential> run_case(Case c, const std::vector<std::string>& may_die = {});

} // namespace valley::e2e
