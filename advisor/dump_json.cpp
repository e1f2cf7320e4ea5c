// SPDX-License-Identifier: MIT
/// @file dump_json.cpp
/// @brief `valley dump --json`, schema in dump-json.md. Written as it streams: each process
/// object is built without its events, which are then appended one at a time.
#include "dump.h"
#include "frame_json.h"
#include "json_text.h"
#include "text.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>

namespace valley::advisor {
namespace {

using nlohmann::json;

std::string hex(uint64_t v) { return fmt::format("{:#x}", v); }

json opt_string(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json frame_json(const Frame& f) {
  return {{"address", hex(f.address)},
          {"module", opt_string(f.module)},
          {"offset", f.module.empty() ? json(nullptr) : json(f.offset)},
          {"function", opt_string(f.function)},
          {"file", opt_string(f.file)},
          {"line", f.line ? json(f.line) : json(nullptr)},
          {"build_id_mismatch", f.build_id_mismatch},
          {"python", f.python},
          {"first_line", f.first_line ? json(f.first_line) : json(nullptr)},
          {"text", frame_text(f)},
          {"inlined_into", inlined_json(f, true)}};
}

json python_json(const SiteModel& s) {
  json out = json::array();
  for (const Frame& f : s.python)
    out.push_back(frame_json(f));
  return out;
}

json size_hist_json(const uint64_t (&h)[kHistBuckets]) {
  json out = json::object();
  for (uint32_t b = 0; b < kHistBuckets; ++b)
    if (h[b]) out[std::to_string(bucket_low(b))] = h[b];
  return out;
}

// Keys are bucket lower bounds in ns; 3 significant digits keep neighbouring buckets (a factor
// of 2 apart) distinct for any clock.
std::string ns_key(double ns) {
  if (ns == 0) return "0";
  return ns >= 100 ? fmt::format("{:.0f}", ns) : fmt::format("{:.3g}", ns);
}

json gap_hist_json(const uint64_t (&h)[kHistBuckets], double ns_per_tick) {
  json out = json::object();
  for (uint32_t b = 0; b < kHistBuckets; ++b)
    if (h[b]) out[ns_key(static_cast<double>(bucket_low(b)) * ns_per_tick)] = h[b];
  return out;
}

/// A number, or null when `present` is false.
template <typename T> std::string nullable(bool present, T v) {
  return present ? fmt::format("{}", v) : std::string("null");
}

json problems_json(const std::vector<Problem>& problems) {
  json out = json::array();
  for (const Problem& p : problems)
    out.push_back({{"file", p.file}, {"message", p.message}});
  return out;
}

json modules_json(const Trace& t) {
  json out = json::array();
  for (size_t i = 0; i < t.modules.size(); ++i) {
    const ModuleRow& m = t.modules[i];
    out.push_back({{"index", i},
                   {"path", std::string(fixed_string(m.path))},
                   {"bias", hex(m.bias)},
                   {"lo", hex(m.lo)},
                   {"hi", hex(m.hi)},
                   {"build_id", hex_bytes(m.build_id, m.build_id_len)},
                   {"main", m.is_main != 0}});
  }
  return out;
}

json stack_json(const ProcessView& p, uint32_t id) {
  const StackRow& row = p.trace.stacks[id - 1];
  json frames = json::array();
  for (const Frame& f : p.model->stacks[id - 1])
    frames.push_back(frame_json(f));
  return {{"id", id},
          {"site", row.site},
          {"hits", row.hits},
          {"modules_seen", row.modules_seen},
          {"frames", frames}};
}

json sites_json(const ProcessView& p) {
  json out = json::array();
  for (const auto& [id, s] : p.model->sites) {
    json stacks = json::array();
    for (uint32_t sid : s.stacks)
      stacks.push_back(stack_json(p, sid));
    out.push_back({{"id", id},
                   {"address", hex(s.entry->data.return_address)},
                   {"flags", site_flag_names(s.entry->data.flags)},
                   {"frame", frame_json(s.frame)},
                   {"caller", s.caller ? frame_json(*s.caller) : json(nullptr)},
                   {"python", python_json(s)},
                   {"library_module",
                    s.entry->data.flags & kSiteMarker ? json(s.entry->data.caller) : json(nullptr)},
                   {"first_stack", s.entry->data.first_stack},
                   {"stacks", stacks}});
  }
  return out;
}

json counters_json(const ProcessView& p) {
  json out = json::array();
  for (const CounterEntry* c : p.counters) {
    const CounterRow& r = c->data;
    bool catch_all = r.key == kCatchAllKey;
    json j = {{"row", c->row}, {"catch_all", catch_all}};
    const SiteModel* site = catch_all ? nullptr : p.model->site(key_site(r.key));
    bool no_site = catch_all || key_site(r.key) == kSiteUnknown;
    j["site"] = no_site ? json(nullptr) : json(key_site(r.key));
    j["op"] = catch_all ? json(nullptr) : json(op_label(static_cast<uint8_t>(key_op(r.key))));
    j["fd_kind"] =
        catch_all ? json(nullptr) : json(kind_label(static_cast<uint8_t>(key_kind(r.key))));
    const FileRow* f = p.file(r.last_file);
    j["fd"] = f ? json(f->fd) : json(nullptr);
    j["path"] = f ? json(std::string(fixed_string(f->path))) : json(nullptr);
    const Frame* loc = site ? &site->location() : nullptr;
    j["function"] = loc ? opt_string(loc->function) : json(nullptr);
    j["file"] = loc ? opt_string(loc->file) : json(nullptr);
    j["line"] = loc && loc->line ? json(loc->line) : json(nullptr);
    j["location"] = loc ? json(frame_text(*loc)) : json(nullptr);
    j["calls"] = r.calls;
    j["bytes"] = r.bytes;
    j["requested"] = r.requested;
    j["errors"] = r.errors;
    j["zero_results"] = r.zero_results;
    j["time_ns"] = saturate_u64(static_cast<double>(r.ticks) * p.ns_per_tick + 0.5);
    j["size_hist"] = size_hist_json(r.size_hist);
    j["gap_hist_ns"] = gap_hist_json(r.gap_hist, p.ns_per_tick);
    out.push_back(std::move(j));
  }
  return out;
}

json files_json(const ProcessView& p) {
  json out = json::array();
  for (size_t i = 0; i < p.trace.files.size(); ++i) {
    const FileRow& f = p.trace.files[i];
    out.push_back({{"id", i + 1},
                   {"fd", f.fd},
                   {"kind", kind_label(f.kind)},
                   {"path", std::string(fixed_string(f.path))},
                   {"first_us", p.since_start_us(f.first_ticks)}});
  }
  return out;
}

json coverage_json(const Coverage& c) {
  auto ratio = [](uint64_t seen, uint64_t kernel) {
    return kernel ? json(static_cast<double>(seen) / static_cast<double>(kernel)) : json(nullptr);
  };
  return {{"valid", c.valid != 0},
          {"kernel_syscr", c.kernel_syscr},
          {"kernel_syscw", c.kernel_syscw},
          {"kernel_rchar", c.kernel_rchar},
          {"kernel_wchar", c.kernel_wchar},
          {"seen_reads", c.seen_reads},
          {"seen_writes", c.seen_writes},
          {"seen_rbytes", c.seen_rbytes},
          {"seen_wbytes", c.seen_wbytes},
          {"read_ratio", ratio(c.seen_reads, c.kernel_syscr)},
          {"write_ratio", ratio(c.seen_writes, c.kernel_syscw)}};
}

json process_json(const ProcessView& p) {
  const Trace& t = p.trace;
  json j = {{"trace", t.name}, {"readable", p.info != nullptr}};
  if (!p.info) {
    j["pid"] = t.pid;
    j["seq"] = t.seq;
    return j;
  }
  const SegmentHeader& h = t.header;
  const ProcessInfo& info = *p.info;
  j["pid"] = h.pid;
  j["ppid"] = h.ppid;
  j["seq"] = h.seq;
  j["origin"] = origin_name(info.origin);
  j["parent"] =
      info.parent ? json{{"pid", info.parent->pid}, {"seq", info.parent->seq}} : json(nullptr);
  j["pid_reused"] = info.pid_reused;
  j["command"] = info.argv;
  j["command_truncated"] = info.cmdline_truncated;
  j["program"] = program_name(info.argv, std::string(fixed_string(h.exe)));
  j["exe"] = std::string(fixed_string(h.exe));
  j["state"] = end_name(info.end);
  j["state_flags"] = state_flag_names(h.state);
  j["start_realtime_ns"] = h.start_realtime_ns;
  j["duration_ns"] = saturate_u64(info.duration_ns + 0.5);
  j["clock"] = {{"kind", h.clock == ClockKind::tsc ? "tsc" : "monotonic"},
                {"ns_per_tick", info.clock.ns_per_tick},
                {"note", opt_string(info.clock.note)}};
  j["coverage"] = coverage_json(h.coverage);
  j["events_dropped"] = h.events_dropped;
  j["events_late"] = h.events_late;
  j["tables"] = {{"counters_used", h.counters_used}, {"sites_used", h.sites_used},
                 {"stacks_used", h.stacks_used},     {"modules_used", h.modules_used},
                 {"files_used", h.files_used},       {"sites_full", h.sites_full},
                 {"stacks_full", h.stacks_full},     {"modules_full", h.modules_full},
                 {"files_full", h.files_full},       {"stack_sample", h.stack_sample}};
  const char* py_states[] = {"none", "active", "unsupported"};
  j["python"] = {{"state", h.py_state < 3 ? json(py_states[h.py_state]) : json(h.py_state)},
                 {"version", h.py_version ? json(fmt::format("{}.{}.{}", h.py_version >> 24,
                                                             (h.py_version >> 16) & 0xff,
                                                             (h.py_version >> 8) & 0xff))
                                          : json(nullptr)},
                 {"frames_used", h.pyframes_used},
                 {"stacks_full", h.pyframes_full}};
  j["modules"] = modules_json(t);
  j["sites"] = sites_json(p);
  json orphans = json::array();
  for (uint32_t sid : p.model->orphan_stacks)
    orphans.push_back(stack_json(p, sid));
  j["orphan_stacks"] = orphans;
  j["counters"] = counters_json(p);
  j["files"] = files_json(p);
  return j;
}

class JsonRenderer final : public DumpRenderer {
public:
  JsonRenderer(std::FILE* out, const DumpOptions& o) : out_(out), opts_(o) {}

  void begin_run(const RunDir& run) override {
    fmt::print(out_, "{{\"schema_version\":1,\"run_dir\":{},\"filters\":{},\"processes\":[",
               json_quote(run.path.string()), json_text(json(opts_.filters)));
  }

  void begin_process(const ProcessView& p) override {
    std::string obj = json_text(process_json(p));
    obj.pop_back(); // the closing brace: events and totals follow
    fmt::print(out_, "{}{}", first_process_ ? "\n" : ",\n", obj);
    first_process_ = false;
    if (opts_.events) fmt::print(out_, ",\"events\":[");
    first_event_ = true;
  }

  // Events are the bulk of a dump: formatted directly rather than through json objects.
  // Every string here is an ASCII label (op, kind, errno and flag names) needing no escapes.
  void event(const ProcessView& p, const EventRecord& e, EventSource src) override {
    buf_.clear();
    auto out = std::back_inserter(buf_);
    fmt::format_to(out, "{}\n{{\"ticks\":{},\"t_us\":", first_event_ ? "" : ",", e.ticks);
    // Without a readable header there is no calibration: only raw ticks.
    if (p.info)
      fmt::format_to(out, "{}", p.since_start_us(e.ticks));
    else
      fmt::format_to(out, "null");
    fmt::format_to(out,
                   ",\"tid\":{},\"op\":\"{}\",\"fd\":{},\"fd_kind\":\"{}\",\"size\":{},"
                   "\"result\":{},\"errno\":",
                   e.tid, op_label(e.op), e.fd, kind_label(e.fd_kind), e.size, e.result);
    if (e.result < 0)
      fmt::format_to(out, "\"{}\"", errno_name(-int64_t{e.result}));
    else
      fmt::format_to(out, "null");
    const bool run = e.flags & kEventRun;
    const uint32_t duration = run ? 0 : e.duration;
    fmt::format_to(out, ",\"offset\":{},\"duration_ticks\":{},\"duration_ns\":{}",
                   nullable(!run && e.offset != -1, e.offset), duration,
                   nullable(p.info != nullptr, saturate_u64(p.ticks_to_ns(duration) + 0.5)));
    fmt::format_to(out, ",\"calls\":{},\"last_ticks\":{},\"last_t_us\":", event_calls(e),
                   event_last_ticks(e));
    if (p.info)
      fmt::format_to(out, "{}", p.since_start_us(event_last_ticks(e)));
    else
      fmt::format_to(out, "null");
    uint32_t file = p.event_file(e);
    fmt::format_to(out, ",\"site\":{},\"file\":{},\"flags\":[",
                   nullable(e.site != kSiteUnknown, e.site), nullable(file != 0, file));
    bool first_flag = true;
    for (const std::string& f : event_flag_names(e.flags, src)) {
      fmt::format_to(out, "{}\"{}\"", first_flag ? "" : ",", f);
      first_flag = false;
    }
    fmt::format_to(out, "],\"source\":\"{}\"}}", src == EventSource::file ? "file" : "ring");
    std::fwrite(buf_.data(), 1, buf_.size(), out_);
    first_event_ = false;
  }

  void end_process(const ProcessView& p, const EventTally& tally,
                   const std::vector<Problem>& problems) override {
    if (opts_.events) fmt::print(out_, "]");
    uint64_t drain_torn = p.info ? p.trace.header.events_torn : 0;
    json totals = {{"events_total", tally.total()},
                   {"event_calls_total", tally.calls},
                   {"events_from_file", tally.from_file},
                   {"events_from_ring", tally.from_ring},
                   {"events_torn", drain_torn + tally.torn},
                   {"events_invalid", tally.invalid},
                   {"last_event_us", tally.total() && p.info
                                         ? json(p.since_start_us(tally.last_ticks))
                                         : json(nullptr)},
                   {"problems", problems_json(problems)}};
    std::string s = json_text(totals);
    fmt::print(out_, ",{}}}", std::string_view(s).substr(1, s.size() - 2));
    all_problems_.insert(all_problems_.end(), problems.begin(), problems.end());
  }

  void end_run(const std::vector<Problem>& problems, size_t) override {
    all_problems_.insert(all_problems_.end(), problems.begin(), problems.end());
    fmt::print(out_, "\n],\"problems\":{}}}\n", json_text(problems_json(all_problems_)));
  }

private:
  std::FILE* out_;
  DumpOptions opts_;
  bool first_process_ = true;
  bool first_event_ = true;
  std::vector<Problem> all_problems_;
  fmt::memory_buffer buf_;
};

} // namespace

std::unique_ptr<DumpRenderer> make_json_renderer(std::FILE* out, const DumpOptions& o) {
  return std::make_unique<JsonRenderer>(out, o);
}

} // namespace valley::advisor
