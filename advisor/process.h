// SPDX-License-Identifier: MIT
/// @file process.h
/// @brief What a trace says about its process: how it began, how it ended, its clock, its
/// command line, and how much of its I/O valley saw.
#pragma once

#include "segment_reader.h"

#include <optional>
#include <string>
#include <vector>

namespace valley::advisor {

enum class ProcessOrigin {
  start, ///< started with the preload, or nothing better is known
  fork,  ///< forked from `parent`
  exec,  ///< the image after an exec; `parent` is the image before (same pid, seq - 1)
};

struct TraceRef {
  uint32_t pid = 0;
  uint32_t seq = 0;
};

enum class ProcessEnd {
  finished, ///< exit/_exit ran valley's final drain
  exec,     ///< replaced by a new image
  killed,   ///< neither: killed, crashed, or still running
};

struct Clock {
  double ns_per_tick = 1.0;
  std::string note; ///< set when the calibration could not be used
};

struct ProcessInfo {
  ProcessOrigin origin = ProcessOrigin::start;
  std::optional<TraceRef> parent; ///< for fork and exec
  bool pid_reused = false;        ///< <pid>-<n-1> exists but is another process
  ProcessEnd end = ProcessEnd::killed;
  Clock clock;
  double duration_ns = 0;
  std::vector<std::string> argv;
  bool cmdline_truncated = false;
};

const char* origin_name(ProcessOrigin o);
const char* end_name(ProcessEnd e);

/// ns per tick from the header's two calibration pairs.
Clock calibrate(const SegmentHeader& h);

/// Splits /proc/self/cmdline bytes (NUL-separated, maybe without a final NUL) into argv.
std::vector<std::string> split_cmdline(const char* data, size_t len);

/// The name a process was started as: argv[0]'s file name ("redis-server", even when it is a
/// symlink to redis-check-rdb), else the executable's file name.
std::string program_name(const std::vector<std::string>& argv, const std::string& exe);

/// Describes `trace` (whose header must be valid), looking at the other traces of its run
/// for the image it was exec'd from.
ProcessInfo describe(const Trace& trace, const RunDir& run);

} // namespace valley::advisor
