// SPDX-License-Identifier: MIT
/// @file modes.h
/// @brief Runs a hazard victim in the three shim modes the coalescer tests compare:
///   bare      no preload at all;
///   coalesce  libvalley.so with VALLEY_COALESCE=1 and every stream kind (file, pipe, fifo,
///             tcp, unix-stream), so the hazard's fd really is a candidate;
///   naive     naive/naive.c preloaded instead: the deliberately wrong buffer each test must
///             catch (every writable fd, flushed only when full or at exit).
/// Reuses the e2e harness's pipeline runner (timeout per stage, fresh environment).
#pragma once

#include "harness.h"

#include <map>
#include <string>
#include <vector>

namespace valley::coalesce_test {

using e2e::Argv;
namespace fs = std::filesystem;
using e2e::json;

enum class Mode { bare, coalesce, naive };
const char* mode_name(Mode m);

struct Spec {
  std::vector<Argv> stages;               ///< a pipeline; victims named by victim()
  std::vector<std::string> coalesce_env;  ///< extra target settings of the coalesce mode
  int timeout_seconds = 20;               ///< naive runs get at most naive_timeout
  int naive_timeout = 4;
  /// VALLEY_COALESCE_STDIO=1: fds 0-2 are buffered too (the shim leaves them alone by
  /// default); most victims write their hazard to stdout. The naive buffer takes them anyway.
  bool stdio = true;
};

struct Result {
  Mode mode;
  e2e::RunResult run;
  fs::path work;  ///< the work directory after the run (kept until the Runs object dies)
  json dump;      ///< `valley dump --json` (null unless coalesce)
  int status(size_t stage = 0) const { return run.stages.at(stage).status; }
  bool exited0(size_t stage = 0) const;
  bool timed_out() const; ///< any stage ended by `timeout`
  std::string file(const std::string& rel) const;
  std::string what() const; ///< mode, statuses, stdout and stderr excerpts, for messages
};

/// Absolute path of a built victim.
std::string victim(const std::string& name);

/// One temporary root per test; each mode runs in its own fresh work directory under it.
class Runs {
public:
  Runs();
  ~Runs();
  Result run(const Spec& spec, Mode mode);

private:
  fs::path root_;
};

/// What the coalescer did, from the dump: program calls it absorbed and the writes it made.
struct Evidence {
  uint64_t absorbed = 0, flushes = 0, flush_bytes = 0, max_flush = 0;
  std::map<std::string, uint64_t> absorbed_by_kind, flushes_by_kind, max_flush_by_kind;
  std::string str() const;
};
Evidence evidence(const json& dump);

} // namespace valley::coalesce_test
