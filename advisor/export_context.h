// SPDX-License-Identifier: MIT
/// @file export_context.h
/// @brief What both exports need to place one trace's events: the process, its clock on the
/// run's timeline, its call sites symbolized once, the file behind each fd; and a buffered
/// writer for millions of small records.
#pragma once

#include "export.h"
#include "process.h"
#include "segment_reader.h"
#include "symbolizer.h"

#include <fmt/format.h>

#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace valley::advisor {

/// A call site as the exports name it.
struct SiteInfo {
  Frame frame;                 ///< the return address (a library frame for split sites)
  std::optional<Frame> caller; ///< split sites: the first frame outside the library
  std::string text;            ///< as `valley report` names it ("emit_row at report.c:42")
  std::string shim_site;       ///< "module+0xoffset", as valley.toml's coalesce.sites takes it
  std::string build_id;        ///< hex, of the module holding the return address; "" if none
  std::optional<Frame> python; ///< Python sites: the program's Python frame

  /// Where the program made the call: the Python frame for Python sites, the caller for split
  /// sites, else the frame.
  const Frame& location() const {
    if (python) return *python;
    return caller ? *caller : frame;
  }
};

/// The run's timeline: ns since the earliest process of the run began, on CLOCK_MONOTONIC, so
/// every process of one machine lines up whatever its own tick rate.
struct Timeline {
  double start_mono_ns = 0; ///< CLOCK_MONOTONIC of the earliest start; 0 when none is known
};

/// Reads `dir` and finds the run's start. Throws std::runtime_error when the directory cannot
/// be listed or holds no trace.
std::pair<RunDir, Timeline> open_run(const std::string& dir);

/// One trace with a readable header, ready to place its events.
class TraceContext {
public:
  TraceContext(const Trace& t, const RunDir& run, const Timeline& tl, Symbolizer& sym);

  const Trace& trace;
  ProcessInfo info;
  std::string program; ///< as started (argv[0]'s file name)
  double ns_per_tick;

  /// ns since the run began of a tick count; nullopt when a damaged value lies outside ±2^53 ns
  /// (doubles stop being exact there).
  std::optional<int64_t> at(uint64_t ticks) const;
  /// CLOCK_REALTIME ns of a tick count, from the process's start; nullopt out of range.
  std::optional<int64_t> realtime(uint64_t ticks) const;
  /// ns, rounded; saturated for damaged values.
  int64_t duration_ns(uint64_t ticks) const;

  /// The site of an id, or null (kSiteUnknown, kSiteFlush, no row).
  const SiteInfo* site(uint32_t id) const;
  /// The FileRow id (row + 1) that described `fd` at `ticks`, 0 when none did.
  uint32_t file_at(int32_t fd, uint64_t ticks) const;
  const FileRow* file(uint32_t id) const;

private:
  double mono_ns(uint64_t ticks) const;
  const Timeline& tl_;
  std::map<uint32_t, SiteInfo> sites_;
  std::map<int32_t, std::vector<std::pair<uint64_t, uint32_t>>> files_by_fd_;
};

/// The trace's pid is one of `pids` (empty: every pid).
bool pid_selected(const std::vector<uint32_t>& pids, uint32_t pid);
/// The trace passes --pid and --command (an unreadable header has no command to match).
bool trace_selected(const ExportOptions& o, const Trace& t, const RunDir& run);

/// Formats into memory and writes in large blocks; exports write millions of small records,
/// so appending is a bounds check and a memcpy.
class OutBuffer {
public:
  explicit OutBuffer(std::FILE* out) : out_(out), data_(new char[kCapacity]) {}
  template <typename... Args> void put(fmt::format_string<Args...> f, Args&&... args) {
    fmt::memory_buffer b;
    fmt::format_to(fmt::appender(b), f, std::forward<Args>(args)...);
    append({b.data(), b.size()});
  }
  void append(std::string_view s) {
    if (size_ + s.size() > kCapacity) {
      flush();
      if (s.size() > kCapacity) return write(s.data(), s.size());
    }
    std::memcpy(data_.get() + size_, s.data(), s.size());
    size_ += s.size();
  }
  /// An integer, without a format string to parse: the exports write billions of them.
  template <typename T> void num(T v) {
    const fmt::format_int f(v);
    append({f.data(), f.size()});
  }
  /// Writes what is buffered once enough has piled up.
  void maybe_flush() {
    if (size_ >= kFlushAt) flush();
  }
  /// Throws std::runtime_error when the output cannot be written.
  void flush() {
    write(data_.get(), size_);
    size_ = 0;
  }

private:
  static constexpr size_t kFlushAt = 1 << 20, kCapacity = kFlushAt + (64 << 10);
  void write(const char* p, size_t n);
  std::FILE* out_;
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
};

/// ns as µs, the format's unit, with three decimals ("12.345"): no precision lost.
void put_us(OutBuffer& o, int64_t ns);

/// "FILE: message" for each problem.
void add_problems(std::vector<std::string>& out, const std::vector<Problem>& problems);

} // namespace valley::advisor
