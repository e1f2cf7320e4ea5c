// SPDX-License-Identifier: MIT
/// @file export_jsonl.cpp
/// @brief `valley export --format jsonl`: one JSON object per line (a run, its processes, their
/// counter rows symbolized, problems and, with --events, every event), flat columns for query
/// engines. Schema: export-jsonl.md. Streamed like the Perfetto export.
#include "export_context.h"
#include "json_text.h"
#include "text.h"

#include <algorithm>
#include <type_traits>

namespace valley::advisor {
namespace {

/// One record: `"key":value` pairs after the type and schema version. Keys are fixed ASCII;
/// every string value goes through json_quote (R-07: bytes from traces need not be UTF-8).
class Record {
public:
  /// `run_quoted`: the run directory, on every record but events (millions of them, whose
  /// trace names their process record).
  Record(OutBuffer& out, const char* type, const std::string* run_quoted) : out_(out) {
    out_.put("{{\"type\":\"{}\",\"schema_version\":{}", type, kJsonlSchemaVersion);
    if (run_quoted) raw("run", *run_quoted);
  }
  ~Record() {
    out_.append("}\n");
    out_.maybe_flush();
  }
  template <typename T> Record& num(const char* key, T v) {
    key_(key);
    if constexpr (std::is_integral_v<T>)
      out_.num(v);
    else
      out_.put("{}", v);
    return *this;
  }
  template <typename T> Record& num(const char* key, std::optional<T> v) {
    return v ? num(key, *v) : null(key);
  }
  Record& boolean(const char* key, bool v) { return raw(key, v ? "true" : "false"); }
  Record& str(const char* key, std::string_view v) { return raw(key, json_quote(v)); }
  /// A string, or null when empty (unknown).
  Record& opt_str(const char* key, std::string_view v) {
    return v.empty() ? null(key) : str(key, v);
  }
  Record& null(const char* key) { return raw(key, "null"); }
  Record& raw(const char* key, std::string_view json) {
    key_(key);
    out_.append(json);
    return *this;
  }

private:
  void key_(const char* key) {
    out_.append(",\"");
    out_.append(key);
    out_.append("\":");
  }
  OutBuffer& out_;
};

std::string op_text(uint8_t op) {
  return op >= 1 && op <= kOpMax ? op_name(static_cast<Op>(op)) : fmt::format("op{}", op);
}
std::string kind_text(uint8_t kind) {
  return kind <= kFdKindMax ? fd_kind_name(static_cast<FdKind>(kind)) : fmt::format("kind{}", kind);
}

std::string hist(const uint64_t (&h)[kHistBuckets]) {
  return fmt::format("[{}]", fmt::join(h, h + kHistBuckets, ","));
}

class JsonlWriter {
public:
  JsonlWriter(const ExportOptions& o, std::FILE* out) : o_(o), out_(out) {}

  ExportSummary write() {
    auto [run, tl] = open_run(o_.dir);
    run_ = json_quote(o_.dir);
    {
      uint64_t start = 0;
      for (const Trace& t : run.traces)
        if (t.header_valid && (start == 0 || t.header.start_realtime_ns < start))
          start = t.header.start_realtime_ns;
      Record(out_, "run", &run_)
          .str("valley_version", VALLEY_VERSION)
          .num("traces", run.traces.size())
          .num("start_realtime_ns", start ? std::optional(start) : std::nullopt);
      ++sum_.records;
    }
    problems(run.problems, nullptr);
    Symbolizer sym;
    for (const Trace& t : run.traces) {
      if (!trace_selected(o_, t, run)) continue;
      ++sum_.processes;
      if (!t.header_valid) {
        Record(out_, "process", &run_)
            .str("trace", t.name)
            .num("pid", t.pid)
            .num("seq", t.seq)
            .boolean("readable", false);
        ++sum_.records;
      } else {
        TraceContext ctx(t, run, tl, sym);
        process(ctx);
        for (const CounterEntry& c : t.counters)
          counter(ctx, c);
        if (o_.events) events(ctx);
      }
      problems(t.problems, &t);
    }
    out_.flush();
    return sum_;
  }

private:
  void problems(const std::vector<Problem>& list, const Trace* t) {
    for (const Problem& p : list) {
      Record r(out_, "problem", &run_);
      if (t) r.str("trace", t->name).num("pid", t->pid);
      r.str("file", p.file).str("message", p.message);
      ++sum_.records;
    }
    add_problems(sum_.problems, list);
  }

  void process(const TraceContext& ctx) {
    const Trace& t = ctx.trace;
    const SegmentHeader& h = t.header;
    const ProcessInfo& info = ctx.info;
    std::string argv = "[";
    for (const std::string& a : info.argv)
      argv += (argv.size() > 1 ? "," : "") + json_quote(a);
    argv += "]";
    const Coverage& c = h.coverage;
    Record r(out_, "process", &run_);
    r.str("trace", t.name).num("pid", h.pid).num("seq", h.seq).boolean("readable", true);
    r.num("ppid", h.ppid).str("origin", origin_name(info.origin));
    r.num("parent_pid", info.parent ? std::optional(info.parent->pid) : std::nullopt);
    r.num("parent_seq", info.parent ? std::optional(info.parent->seq) : std::nullopt);
    r.boolean("pid_reused", info.pid_reused).str("program", ctx.program).raw("command", argv);
    r.boolean("command_truncated", info.cmdline_truncated).str("exe", fixed_string(h.exe));
    r.str("state", end_name(info.end)).num("start_realtime_ns", h.start_realtime_ns);
    r.num("start_t_ns", ctx.at(h.start_ticks));
    r.num("duration_ns", saturate_u64(info.duration_ns));
    r.num("ns_per_tick", info.clock.ns_per_tick).opt_str("clock_note", info.clock.note);
    r.boolean("coverage_valid", c.valid != 0);
    r.num("kernel_syscr", c.kernel_syscr).num("kernel_syscw", c.kernel_syscw);
    r.num("kernel_rchar", c.kernel_rchar).num("kernel_wchar", c.kernel_wchar);
    r.num("seen_reads", c.seen_reads).num("seen_writes", c.seen_writes);
    r.num("seen_rbytes", c.seen_rbytes).num("seen_wbytes", c.seen_wbytes);
    r.num("events_dropped", h.events_dropped).num("events_torn", h.events_torn);
    r.num("events_late", h.events_late);
    r.boolean("counters_full", (h.state & kStateCountersFull) != 0).num("sites_full", h.sites_full);
    ++sum_.records;
  }

  void counter(const TraceContext& ctx, const CounterEntry& c) {
    const CounterRow& row = c.data;
    const bool catch_all = row.key == kCatchAllKey;
    const uint32_t site_id = catch_all ? kSiteUnknown : key_site(row.key);
    const SiteInfo* s = ctx.site(site_id);
    Record r(out_, "counter", &run_);
    r.str("trace", ctx.trace.name).num("pid", ctx.trace.pid).num("row", c.row);
    r.boolean("catch_all", catch_all);
    r.num("site", catch_all || site_id == kSiteUnknown ? std::nullopt : std::optional(site_id));
    if (catch_all) {
      r.null("op").null("fd_kind").null("direction");
    } else {
      const auto op = static_cast<uint8_t>(key_op(row.key));
      r.str("op", op_text(op)).str("fd_kind", kind_text(static_cast<uint8_t>(key_kind(row.key))));
      r.raw("direction",
            op >= 1 && op <= kOpMax && op_is_output(static_cast<Op>(op)) ? "\"out\"" : "\"in\"");
    }
    if (s) {
      const Frame& loc = s->location();
      r.opt_str("function", loc.function).opt_str("file", loc.file);
      r.num("line", loc.line ? std::optional(loc.line) : std::nullopt);
      r.str("location", s->text).opt_str("module", s->frame.module);
      r.num("module_offset",
            s->frame.module.empty() ? std::nullopt : std::optional(s->frame.offset));
      r.opt_str("shim_site", s->shim_site).opt_str("build_id", s->build_id);
    } else {
      r.null("function").null("file").null("line").null("location").null("module");
      r.null("module_offset").null("shim_site").null("build_id");
    }
    const FileRow* f = ctx.file(row.last_file);
    r.num("last_fd", f ? std::optional(f->fd) : std::nullopt);
    r.raw("path", f ? json_quote(fixed_string(f->path)) : "null");
    r.num("calls", row.calls).num("errors", row.errors).num("bytes", row.bytes);
    r.num("requested", row.requested).num("zero_results", row.zero_results);
    r.num("time_in_calls_ns", saturate_u64(static_cast<double>(row.ticks) * ctx.ns_per_tick));
    r.num("ns_per_tick", ctx.ns_per_tick);
    r.raw("size_hist", hist(row.size_hist)).raw("gap_hist", hist(row.gap_hist));
    ++sum_.records;
  }

  void events(const TraceContext& ctx) {
    const Trace& t = ctx.trace;
    const std::string prefix = fmt::format(",\"trace\":{},\"pid\":{}", json_quote(t.name), t.pid);
    std::vector<std::optional<std::string>> paths(t.files.size() + 1);
    std::vector<Problem> problems;
    read_events(
        t,
        [&](const EventRecord& e, EventSource src) {
          const std::optional<int64_t> at = ctx.at(e.ticks);
          if (!at || *at < 0) { // before the run began, or beyond 2^53 ns: damage
            ++sum_.out_of_range;
            return;
          }
          if ((o_.from_ns && *at < *o_.from_ns) || (o_.to_ns && *at > *o_.to_ns)) return;
          Record r(out_, "event", nullptr);
          out_.append(prefix);
          r.num("tid", e.tid).num("realtime_ns", ctx.realtime(e.ticks)).num("t_ns", *at);
          const bool run = e.flags & kEventRun;
          r.num("duration_ns", run ? 0 : ctx.duration_ns(e.duration));
          r.raw("op", op_name_quoted(e.op)).num("fd", e.fd).raw("fd_kind", kind_quoted(e.fd_kind));
          const uint32_t file = ctx.file_at(e.fd, e.ticks);
          if (file) {
            std::optional<std::string>& p = paths[file];
            if (!p) p = json_quote(fixed_string(ctx.file(file)->path));
            r.raw("path", *p);
          } else {
            r.null("path");
          }
          r.num("size", e.size).num("result", e.result);
          r.raw("errno", e.result < 0 ? "\"" + errno_name(-int64_t{e.result}) + "\"" : "null");
          r.num("offset", !run && e.offset != -1 ? std::optional(e.offset) : std::nullopt);
          r.num("calls", event_calls(e)).num("last_t_ns", ctx.at(event_last_ticks(e)));
          r.num("site", e.site == kSiteUnknown || e.site == kSiteFlush ? std::nullopt
                                                                       : std::optional(e.site));
          r.raw("flags", flags(e.flags, src));
          ++sum_.records;
        },
        problems);
    this->problems(problems, &t);
  }

  const std::string& op_name_quoted(uint8_t op) {
    std::string& q = op_names_[op];
    if (q.empty()) q = json_quote(op_text(op));
    return q;
  }
  const std::string& kind_quoted(uint8_t kind) {
    std::string& q = kind_names_[kind];
    if (q.empty()) q = json_quote(kind_text(kind));
    return q;
  }

  /// ["late","ring"]: the names of an event's flags, made once per combination.
  const std::string& flags(uint8_t f, EventSource src) {
    static constexpr std::pair<uint8_t, const char*> kNames[] = {{kEventNested, "nested"},
                                                                 {kEventLate, "late"},
                                                                 {kEventCoalesced, "coalesced"},
                                                                 {kEventFlush, "flush"},
                                                                 {kEventRun, "run"}};
    constexpr uint8_t kKnown =
        kEventNested | kEventLate | kEventCoalesced | kEventFlush | kEventRun;
    const bool ring = src == EventSource::ring;
    std::string& out = flag_names_[f & kKnown][ring];
    if (!out.empty()) return out;
    out = "[";
    for (const auto& [bit, name] : kNames)
      if (f & bit) out += fmt::format("{}\"{}\"", out.size() > 1 ? "," : "", name);
    if (ring) out += out.size() > 1 ? ",\"ring\"" : "\"ring\"";
    return out += "]";
  }

  const ExportOptions& o_;
  OutBuffer out_;
  ExportSummary sum_;
  std::string run_;
  std::string op_names_[256], kind_names_[256], flag_names_[32][2];
};

} // namespace

ExportSummary write_jsonl(const ExportOptions& o, std::FILE* out) {
  JsonlWriter w(o, out);
  return w.write();
}

} // namespace valley::advisor
