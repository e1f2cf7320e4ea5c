// SPDX-License-Identifier: MIT
/// @file dump.h
/// @brief `valley dump`: the renderer interface the text and JSON outputs implement, and the
/// labels both use. Events are streamed to the renderer, never collected.
#pragma once

#include "filters.h"
#include "process.h"
#include "trace_model.h"

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace valley::advisor {

/// One process as the renderers see it. `info` and `model` are null when the header is
/// unreadable (the events file may still be).
struct ProcessView {
  const Trace& trace;
  const ProcessInfo* info;
  const TraceModel* model;
  double ns_per_tick;
  /// The counter rows to list, in order (--site and --sort narrow and order them).
  std::vector<const CounterEntry*> counters{};

  double ticks_to_ns(int64_t ticks) const { return static_cast<double>(ticks) * ns_per_tick; }
  /// Microseconds since the trace began.
  double since_start_us(uint64_t ticks) const;
  /// The FileRow an id (row + 1) refers to, or null.
  const FileRow* file(uint32_t id) const;
  /// The FileRow id of an event's fd, 0 when unknown.
  uint32_t event_file(const EventRecord& e) const {
    return model ? model->file_at(e.fd, e.ticks) : 0;
  }
};

struct DumpOptions {
  std::string dir;
  bool json = false;
  bool events = true;
  uint64_t max_events = UINT64_MAX; ///< the first this many events of the run are listed
  ProcessFilter processes;          ///< --pid, --command: the processes shown
  std::vector<SiteSpec> sites;      ///< --site: the call sites, their counters and events shown
  std::optional<SortKey> sort;      ///< --sort calls|time: counter rows, most first
  /// What the options above narrowed, one phrase each, for the output to say.
  std::vector<std::string> filters;
};

class DumpRenderer {
public:
  virtual ~DumpRenderer() = default;
  virtual void begin_run(const RunDir& run) = 0;
  virtual void begin_process(const ProcessView& p) = 0;
  virtual void event(const ProcessView& p, const EventRecord& e, EventSource src) = 0;
  virtual void end_process(const ProcessView& p, const EventTally& tally,
                           const std::vector<Problem>& problems) = 0;
  /// `problems`: those of the run directory itself, not of a trace.
  virtual void end_run(const std::vector<Problem>& problems, size_t total_problems) = 0;
};

/// `valley dump` of the run directory `o.dir` to `out`; returns the number of problems found.
/// Throws std::runtime_error when the directory cannot be listed or holds no trace.
size_t write_dump(const DumpOptions& o, std::FILE* out);

std::unique_ptr<DumpRenderer> make_text_renderer(std::FILE* out, const DumpOptions& o);
std::unique_ptr<DumpRenderer> make_json_renderer(std::FILE* out, const DumpOptions& o);

// Labels shared by both renderers.
std::vector<std::string> site_flag_names(uint32_t flags);
std::vector<std::string> event_flag_names(uint8_t flags, EventSource src);
std::vector<std::string> state_flag_names(uint32_t state);
std::string op_label(uint8_t op);
std::string kind_label(uint8_t kind);
/// "7", or "?" for kSiteUnknown (calls that got no site row).
std::string site_label(uint32_t site);
std::string hex_bytes(const uint8_t* data, size_t n);

} // namespace valley::advisor
