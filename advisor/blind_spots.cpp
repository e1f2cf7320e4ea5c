// SPDX-License-Identifier: MIT
/// @file blind_spots.cpp
/// @brief What valley could not see in a run, by its cause: the kernel's read and write counts
/// against the calls valley intercepted, per process with a gap, the rest in one line.
#include "report.h"

#include "text.h"

#include <fmt/format.h>

#include <algorithm>

namespace valley::advisor {

namespace {

constexpr size_t kListed = 10; ///< processes with a gap listed one by one

struct Gap {
  const ProcessSummary* p;
  uint64_t reads = 0, writes = 0; ///< the kernel counted them; nothing valley saw explains them
};

Gap gap_of(const ProcessSummary& p) {
  Gap g{&p};
  // A copy_file_range or sendfile is one read and one write in the kernel's counts.
  const auto unseen = [&](uint64_t kernel, uint64_t seen) {
    const uint64_t u = kernel > seen ? kernel - seen : 0;
    return u - std::min(u, p.copy_calls);
  };
  g.reads = unseen(p.kernel_reads, p.seen_reads);
  g.writes = unseen(p.kernel_writes, p.seen_writes);
  return g;
}

std::string besides(const ProcessSummary& p) {
  std::string s;
  if (p.copy_calls)
    s += fmt::format("; {} copy_file_range/sendfile call(s), which the kernel counts as a read and "
                     "a write each",
                     p.copy_calls);
  if (p.socket_calls)
    s += fmt::format("; {} send/recv-family call(s) besides, which the kernel's read and write "
                     "counts leave out",
                     p.socket_calls);
  return s;
}

// Each unseen read paired with an unseen write is what copy_file_range, sendfile and splice
// leave when the shim did not record them (`cp -r`): named first when the two are about even.
std::string causes(const ProcessSummary& p, const Gap& g) {
  const bool paired =
      g.reads && g.writes && 4 * std::min(g.reads, g.writes) >= 3 * std::max(g.reads, g.writes);
  const char* copies = p.copy_calls ? ""
                                    : "copy_file_range, sendfile or splice (a read and a write "
                                      "each in the kernel's counts; this trace records none), ";
  return fmt::format(
      "from calls valley cannot hook: {}libc's internal I/O (stdio filling or flushing its "
      "buffer), the dynamic loader reading each library loaded with dlopen, static code, raw "
      "syscall(){}{}",
      paired ? copies : "", p.uring ? ", io_uring (liburing is loaded)" : ", io_uring",
      paired || p.copy_calls
          ? ""
          : ", copy_file_range/sendfile/splice if this trace's shim does not record them");
}

} // namespace

std::vector<std::string> blind_spots(const RunModel& m) {
  std::vector<std::string> out;
  std::vector<Gap> gaps;
  std::vector<const ProcessSummary*> complete;
  for (const ProcessSummary& p : m.processes) {
    if (!p.readable) {
      out.push_back(fmt::format("{}: the trace could not be read; its calls are missing", p.name));
      continue;
    }
    if (!p.coverage_valid) {
      out.push_back(fmt::format("{} ({}): no coverage measured (the process did not exit normally)",
                                p.name, p.program));
    } else if (Gap g = gap_of(p); g.reads || g.writes) {
      gaps.push_back(g);
    } else {
      complete.push_back(&p);
    }
    if (p.counters_full || p.sites_full)
      out.push_back(fmt::format("{}: the call-site tables were full ({} sites without a row): some "
                                "calls are counted without a call site and get no finding",
                                p.name, p.sites_full));
    if (p.killed)
      out.push_back(fmt::format("{}: did not exit normally (killed or still running): figures end "
                                "at its last drain",
                                p.name));
    if (p.dropped || p.torn || p.invalid)
      out.push_back(
          fmt::format("{}: {} events dropped, {} torn, {} invalid: replay and burst figures "
                      "undercount (counters are exact)",
                      p.name, p.dropped, p.torn, p.invalid));
  }
  std::stable_sort(gaps.begin(), gaps.end(), [](const Gap& x, const Gap& y) {
    return x.reads + x.writes > y.reads + y.writes;
  });
  for (size_t i = 0; i < gaps.size() && i < kListed; ++i) {
    const ProcessSummary& p = *gaps[i].p;
    out.push_back(fmt::format(
        "{} ({}): coverage: the kernel counted {} read and {} write syscalls, valley intercepted "
        "{} and {}{}; {} read(s) and {} write(s) came {}",
        p.name, p.program, p.kernel_reads, p.kernel_writes, p.seen_reads, p.seen_writes, besides(p),
        gaps[i].reads, gaps[i].writes, causes(p, gaps[i])));
  }
  if (gaps.size() > kListed) {
    uint64_t r = 0, w = 0;
    for (size_t i = kListed; i < gaps.size(); ++i)
      r += gaps[i].reads, w += gaps[i].writes;
    out.push_back(fmt::format("{} more process(es) with calls valley did not see: {} read(s) and "
                              "{} write(s) in all, from the same kinds of calls",
                              gaps.size() - kListed, r, w));
  }
  if (!complete.empty()) {
    uint64_t sockets = 0, copies = 0;
    std::string names;
    for (size_t i = 0; i < complete.size(); ++i) {
      sockets += complete[i]->socket_calls;
      copies += complete[i]->copy_calls;
      if (i < 3)
        names += (i ? ", " : "") + fmt::format("{} ({})", complete[i]->name, complete[i]->program);
    }
    if (complete.size() > 3) names += ", …";
    std::string extra;
    if (copies) extra += fmt::format("; {} copy_file_range/sendfile call(s)", copies);
    if (sockets)
      extra += fmt::format("; {} send/recv-family call(s) besides, which those counts leave out",
                           sockets);
    out.push_back(
        fmt::format("{} {}: coverage complete, valley saw every read and write syscall "
                    "the kernel counted{}",
                    complete.size() == 1 ? "process" : fmt::format("{} processes", complete.size()),
                    names, extra));
  }
  out.push_back("counts start when valley starts in a process, after the dynamic loader read the "
                "program's libraries; programs started without the preload (static executables, "
                "setuid programs, children whose environment was cleared) leave no trace and are "
                "not listed");
  return out;
}

} // namespace valley::advisor
