// SPDX-License-Identifier: MIT
/// @file process.cpp
/// @brief Process relations and derived per-trace facts.
#include "process.h"
#include "text.h"

#include <algorithm>
#include <cstring>

namespace valley::advisor {

const char* origin_name(ProcessOrigin o) {
  switch (o) {
  case ProcessOrigin::start:
    return "start";
  case ProcessOrigin::fork:
    return "fork";
  case ProcessOrigin::exec:
    return "exec";
  }
  return "?";
}

const char* end_name(ProcessEnd e) {
  switch (e) {
  case ProcessEnd::finished:
    return "finished";
  case ProcessEnd::exec:
    return "exec";
  case ProcessEnd::killed:
    return "killed-or-crashed";
  }
  return "?";
}

Clock calibrate(const SegmentHeader& h) {
  if (h.calib_ticks1 == h.calib_ticks0)
    return {1.0, "one calibration point only; assuming 1 ns per tick"};
  if (h.calib_ticks1 < h.calib_ticks0 || h.calib_ns1 <= h.calib_ns0)
    return {1.0, "calibration pairs do not move forward; assuming 1 ns per tick"};
  double ns = static_cast<double>(h.calib_ns1 - h.calib_ns0);
  return {ns / static_cast<double>(h.calib_ticks1 - h.calib_ticks0), {}};
}

std::vector<std::string> split_cmdline(const char* data, size_t len) {
  std::vector<std::string> argv;
  size_t i = 0;
  while (i < len) {
    const char* nul = static_cast<const char*>(std::memchr(data + i, '\0', len - i));
    size_t end = nul ? static_cast<size_t>(nul - data) : len;
    argv.emplace_back(data + i, end - i);
    i = end + 1;
  }
  return argv;
}

std::string program_name(const std::vector<std::string>& argv, const std::string& exe) {
  // A login shell's argv[0] is "-bash"; the program is bash.
  std::string name = argv.empty() ? std::string() : base_name(argv[0]);
  if (name.starts_with('-')) name.erase(0, 1);
  return name.empty() ? base_name(exe) : name;
}

ProcessInfo describe(const Trace& t, const RunDir& run) {
  const SegmentHeader& h = t.header;
  ProcessInfo info;
  if (h.origin == Origin::fork) {
    info.origin = ProcessOrigin::fork;
    info.parent = TraceRef{h.parent_pid, h.parent_seq};
  } else if (h.seq > 0) {
    auto prev = std::find_if(run.traces.begin(), run.traces.end(), [&](const Trace& o) {
      return o.header_valid && o.header.pid == h.pid && o.header.seq == h.seq - 1;
    });
    if (prev != run.traces.end()) {
      // Same start time: the same process after exec. Different: the pid was reused.
      if (prev->header.proc_start_ticks == h.proc_start_ticks) {
        info.origin = ProcessOrigin::exec;
        info.parent = TraceRef{h.pid, h.seq - 1};
      } else {
        info.pid_reused = true;
      }
    }
  }
  if (h.state & kStateFinished)
    info.end = ProcessEnd::finished;
  else if (h.state & kStateExec)
    info.end = ProcessEnd::exec;
  info.clock = calibrate(h);
  if (h.end_ticks >= h.start_ticks)
    info.duration_ns = static_cast<double>(h.end_ticks - h.start_ticks) * info.clock.ns_per_tick;
  info.argv = split_cmdline(h.cmdline, h.cmdline_len);
  info.cmdline_truncated = h.cmdline_len == kCmdlineMax && h.cmdline[kCmdlineMax - 1] != '\0';
  return info;
}

} // namespace valley::advisor
