// SPDX-License-Identifier: MIT
/// @file dump_text.cpp
/// @brief `valley dump` as text: one block per process, one line per record.
#include "dump.h"
#include "text.h"

#include <fmt/format.h>

namespace valley::advisor {
namespace {

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const std::string& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string ratio(uint64_t seen, uint64_t kernel) {
  if (kernel == 0) return fmt::format("{} of 0", seen);
  return fmt::format("{} of {} ({:.1f}%)", seen, kernel,
                     100.0 * static_cast<double>(seen) / static_cast<double>(kernel));
}

std::string size_hist(const uint64_t (&h)[kHistBuckets]) {
  std::vector<std::string> parts;
  for (uint32_t b = 0; b < kHistBuckets; ++b) {
    if (h[b] == 0) continue;
    if (b <= 1)
      parts.push_back(fmt::format("{}:{}", b, h[b]));
    else if (b + 1 == kHistBuckets)
      parts.push_back(fmt::format("[{},inf):{}", size_label(bucket_low(b)), h[b]));
    else
      parts.push_back(fmt::format("[{},{}):{}", size_label(bucket_low(b)),
                                  size_label(bucket_low(b + 1)), h[b]));
  }
  return join(parts, " ");
}

std::string gap_hist(const uint64_t (&h)[kHistBuckets], double ns_per_tick) {
  std::vector<std::string> parts;
  for (uint32_t b = 0; b < kHistBuckets; ++b) {
    if (h[b] == 0) continue;
    double lo = static_cast<double>(bucket_low(b)) * ns_per_tick;
    if (b == 0)
      parts.push_back(fmt::format("first-or-0:{}", h[b]));
    else if (b + 1 == kHistBuckets)
      parts.push_back(fmt::format("[{},inf):{}", format_ns(lo), h[b]));
    else
      parts.push_back(fmt::format("[{},{}):{}", format_ns(lo), format_ns(2 * lo), h[b]));
  }
  return join(parts, " ");
}

class TextRenderer final : public DumpRenderer {
public:
  TextRenderer(std::FILE* out, const DumpOptions& o) : out_(out), opts_(o) {}

  void begin_run(const RunDir& run) override {
    line("valley dump of {}: {} trace(s)", printable(run.path.string()), run.traces.size());
    for (const std::string& f : opts_.filters)
      line("filter: {}", printable(f));
  }

  void begin_process(const ProcessView& p) override {
    const Trace& t = p.trace;
    line("");
    if (!p.info) {
      line("== process {}: segment unreadable", t.name);
      if (opts_.events && !t.events_path.empty()) line("  events (raw ticks: no calibration):");
      return;
    }
    const SegmentHeader& h = t.header;
    const ProcessInfo& info = *p.info;
    std::string origin = origin_name(info.origin);
    if (info.parent)
      origin += fmt::format(" {} {}-{}", info.origin == ProcessOrigin::fork ? "of" : "from",
                            info.parent->pid, info.parent->seq);
    if (info.pid_reused) origin += " (pid reused)";
    line("== process {}: pid {}, ppid {}, origin {}, state {}, duration {}", t.name, h.pid, h.ppid,
         origin, end_name(info.end), format_ns(info.duration_ns));
    line("  command: {}{}", shell_join(info.argv), info.cmdline_truncated ? " (truncated)" : "");
    line("  program: {}", printable(program_name(info.argv, std::string(fixed_string(h.exe)))));
    line("  exe: {}", printable(fixed_string(h.exe)));
    line("  clock: {}, {:.4f} ns/tick{}", h.clock == ClockKind::tsc ? "tsc" : "monotonic",
         info.clock.ns_per_tick, info.clock.note.empty() ? "" : " (" + info.clock.note + ")");
    if (auto flags = state_flag_names(h.state); !flags.empty())
      line("  state bits: {}", join(flags, ", "));
    const Coverage& c = h.coverage;
    if (c.valid)
      line("  coverage: reads {}, writes {}; bytes read {}, written {}",
           ratio(c.seen_reads, c.kernel_syscr), ratio(c.seen_writes, c.kernel_syscw),
           ratio(c.seen_rbytes, c.kernel_rchar), ratio(c.seen_wbytes, c.kernel_wchar));
    else
      line("  coverage: not measured");
    line("  loss: {} events dropped, {} torn while draining, {} late", h.events_dropped,
         h.events_torn, h.events_late);
    line("  tables: counters {}/{}, sites {}/{} ({} refused), stacks {}/{} ({} refused), "
         "modules {}/{} ({} refused), files {}/{} ({} refused); stack sample every {} calls",
         h.counters_used, h.counters.capacity, h.sites_used, h.sites.capacity, h.sites_full,
         h.stacks_used, h.stacks.capacity, h.stacks_full, h.modules_used, h.modules.capacity,
         h.modules_full, h.files_used, h.files.capacity, h.files_full, h.stack_sample);
    python(h);
    modules(t);
    sites(p);
    counters(p);
    files(p);
    if (opts_.events) line("  events:");
  }

  void event(const ProcessView& p, const EventRecord& e, EventSource src) override {
    ++listed_;
    std::string result =
        e.result < 0 ? "error " + errno_name(-int64_t{e.result}) : std::to_string(e.result);
    auto flags = event_flag_names(e.flags, src);
    // Without a readable header there is no calibration and no start: raw ticks.
    auto when = [&](uint64_t ticks) {
      return p.info ? fmt::format("+{:.3f}us", p.since_start_us(ticks)) : fmt::format("@{}t", ticks);
    };
    std::string off_dur;
    if (e.flags & kEventRun) {
      off_dur = fmt::format("x{} calls to {}", event_calls(e), when(event_last_ticks(e)));
    } else {
      std::string offset = e.offset == -1 ? "-" : std::to_string(e.offset);
      std::string dur = p.info ? fmt::format("{:.0f}ns", p.ticks_to_ns(e.duration))
                               : fmt::format("{}t", e.duration);
      off_dur = fmt::format("off {} dur {}", offset, dur);
    }
    line("    {} tid {} {} fd {} {} size {} -> {} {} site {} file {}{}", when(e.ticks), e.tid,
         op_label(e.op), e.fd, kind_label(e.fd_kind), e.size, result, off_dur,
         site_label(e.site), p.event_file(e), flags.empty() ? "" : " [" + join(flags, ",") + "]");
  }

  void end_process(const ProcessView& p, const EventTally& tally,
                   const std::vector<Problem>& problems) override {
    if (!opts_.events) {
      line("  events: not listed (--no-events)");
    } else if (listed_ < tally.total()) {
      line("    … {} more event(s) not listed: the dump lists the first {} of the run "
           "(--events N, or --events all for every one)",
           tally.total() - listed_, opts_.max_events);
    }
    listed_ = 0;
    // For a killed process the header's end is its last drain; its last event is later.
    std::string last = tally.total() && p.info
                           ? fmt::format(", last at +{:.3f}us", p.since_start_us(tally.last_ticks))
                           : std::string();
    std::string runs = tally.calls != tally.total()
                           ? fmt::format(" for {} calls (runs of absorbed calls are one record)", tally.calls)
                           : std::string();
    line("  events read: {}{} ({} from the events file, {} from the ring){}, {} torn ring slots, {} "
         "invalid",
         tally.total(), runs, tally.from_file, tally.from_ring, last, tally.torn, tally.invalid);
    for (const Problem& pr : problems)
      line("  problem: {}: {}", printable(pr.file), printable(pr.message));
  }

  void end_run(const std::vector<Problem>& problems, size_t total_problems) override {
    if (!problems.empty()) {
      line("");
      line("== problems outside any trace ({}):", problems.size());
      for (const Problem& pr : problems)
        line("  problem: {}: {}", printable(pr.file), printable(pr.message));
    }
    line("");
    line("== {} problem(s)", total_problems);
  }

private:
  template <typename... Args> void line(fmt::format_string<Args...> f, Args&&... args) {
    fmt::print(out_, f, std::forward<Args>(args)...);
    std::fputc('\n', out_);
  }

  void modules(const Trace& t) {
    line("  modules ({}):", t.modules.size());
    for (size_t i = 0; i < t.modules.size(); ++i) {
      const ModuleRow& m = t.modules[i];
      line("    [{}] {} bias {:#x} range {:#x}-{:#x} build-id {}{}", i,
           printable(fixed_string(m.path)), m.bias, m.lo, m.hi,
           m.build_id_len ? hex_bytes(m.build_id, m.build_id_len) : "none",
           m.is_main ? " main" : "");
    }
  }

  // Whether Python call sites were told apart, and if not, why (the shim does not write to
  // the program's stderr for it).
  void python(const SegmentHeader& h) {
    if (h.py_state == 0) return;
    const std::string version = fmt::format(
        "{}.{}.{}", h.py_version >> 24, (h.py_version >> 16) & 0xff, (h.py_version >> 8) & 0xff);
    if (h.py_state == static_cast<uint32_t>(PyState::active))
      line("  python: CPython {}, Python call sites: {} frames stored ({} stacks refused)", version,
           h.pyframes_used, h.pyframes_full);
    else
      line("  python: valley: CPython {} has no frame layout in this valley; its calls are keyed "
           "by native return address only",
           h.py_version ? version : "< 3.11");
  }

  void sites(const ProcessView& p) {
    line("  call sites ({}):", p.model->sites.size());
    for (const auto& [id, s] : p.model->sites) {
      auto flags = site_flag_names(s.entry->data.flags);
      line("    site {}{}: {}", id, flags.empty() ? "" : " [" + join(flags, ",") + "]",
           printable(frame_text(s.frame)));
      const std::vector<std::string> inlined = frame_lines(s.frame);
      for (size_t k = 1; k < inlined.size(); ++k) line("      {}", printable(inlined[k]));
      if (s.caller) line("      caller: {}", printable(frame_text(*s.caller)));
      for (const Frame& f : s.python)
        line("      {}", printable(frame_text(f)));
      if (s.entry->data.flags & kSiteMarker) library(p.trace, s.entry->data.caller);
      for (uint32_t sid : s.stacks)
        stack(p, sid);
    }
    if (!p.model->orphan_stacks.empty()) {
      line("  stacks of unknown call sites ({}):", p.model->orphan_stacks.size());
      for (uint32_t sid : p.model->orphan_stacks)
        stack(p, sid);
    }
  }

  // A marker row's `caller` is the index of the library's module.
  void library(const Trace& t, uint64_t module) {
    if (module < t.modules.size())
      line("      library: [{}] {}", module, printable(fixed_string(t.modules[module].path)));
    else
      line("      library: module {} (not stored)", module);
  }

  void stack(const ProcessView& p, uint32_t id) {
    const StackRow& row = p.trace.stacks[id - 1];
    line("      stack {} (site {}, hits {}):", id, row.site, row.hits);
    const auto& frames = p.model->stacks[id - 1];
    for (size_t i = 0; i < frames.size(); ++i) {
      // Functions inlined at one address share its frame number.
      const std::string number = fmt::format("#{}", i);
      const std::vector<std::string> lines = frame_lines(frames[i]);
      for (size_t k = 0; k < lines.size(); ++k)
        line("        {} {}", k == 0 ? number : std::string(number.size(), ' '),
             printable(lines[k]));
    }
  }

  void counters(const ProcessView& p) {
    line("  counters ({}):", p.counters.size());
    for (const CounterEntry* c : p.counters) {
      const CounterRow& r = c->data;
      std::string key = r.key == kCatchAllKey
                            ? std::string("catch-all (table full)")
                            : fmt::format("site {} {} {}", site_label(key_site(r.key)),
                                          op_label(static_cast<uint8_t>(key_op(r.key))),
                                          kind_label(static_cast<uint8_t>(key_kind(r.key))));
      std::string last;
      if (const FileRow* f = p.file(r.last_file))
        last = fmt::format(", last fd {} {}", f->fd, printable(fixed_string(f->path)));
      line("    {}: calls {}, bytes {}, requested {}, errors {}, eof {}, time {:.0f}ns{}", key,
           r.calls, r.bytes, r.requested, r.errors, r.zero_results,
           static_cast<double>(r.ticks) * p.ns_per_tick, last);
      line("      sizes: {}", size_hist(r.size_hist));
      line("      gaps: {}", gap_hist(r.gap_hist, p.ns_per_tick));
    }
  }

  void files(const ProcessView& p) {
    line("  files ({}):", p.trace.files.size());
    for (size_t i = 0; i < p.trace.files.size(); ++i) {
      const FileRow& f = p.trace.files[i];
      line("    [{}] fd {} {} {}", i + 1, f.fd, kind_label(f.kind),
           printable(fixed_string(f.path)));
    }
  }

  std::FILE* out_;
  DumpOptions opts_;
  uint64_t listed_ = 0; ///< events of the current process listed
};

} // namespace

std::unique_ptr<DumpRenderer> make_text_renderer(std::FILE* out, const DumpOptions& o) {
  return std::make_unique<TextRenderer>(out, o);
}

} // namespace valley::advisor
