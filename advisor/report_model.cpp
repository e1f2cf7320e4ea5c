// SPDX-License-Identifier: MIT
/// @file report_model.cpp
/// @brief Builds the RunModel: counters and symbolized sites per trace, merged by location
/// across processes, what each process is (its runtime, its shared inputs), then one pass over
/// each trace's events for the analyses the rules asked for.
#include "report_model.h"

#include "analysis.h"
#include "event_pass.h"
#include "filters.h"
#include "process.h"
#include "text.h"
#include "trace_model.h"

#include <fmt/format.h>

#include "valley/flush_rules.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <unordered_map>

namespace valley::advisor {
namespace {

// Two stacks that print the same are one stack: raw return addresses differ where a line
// holds several calls, or where only inlining tells two paths apart.
std::string stack_key(const std::vector<Frame>& fs) {
  std::string k;
  for (const Frame& f : fs) k += location_key(f) + ";";
  return k;
}

// "name in lib.so.6" (the library's function that made the call), or "lib.so.6+0x1f".
std::string library_text(const Frame& f) {
  if (f.module.empty() || f.build_id_mismatch || f.function.empty()) return frame_text(f);
  std::string s = f.function;
  if (!f.inlined_into.empty())
    s += fmt::format(" (inlined into {})", f.inlined_into.front().function);
  return fmt::format("{} in {}", s, base_name(f.module));
}

// The modules of the frames a report shows (sites, callers, kept stacks) whose frames print
// without a function because the file has neither a symbol table nor debug info.
std::vector<UnnamedModule> unnamed_modules(const std::vector<SiteAgg>& sites, Symbolizer& sym) {
  std::set<std::string> paths;
  auto note = [&](const Frame& f) {
    if (!f.module.empty() && f.function.empty() && !f.build_id_mismatch) paths.insert(f.module);
  };
  for (const SiteAgg& a : sites) {
    note(a.frame);
    if (a.caller) note(*a.caller);
    for (const StackView& v : a.stacks)
      for (const Frame& f : v.frames) note(f);
  }
  std::vector<UnnamedModule> out;
  for (const std::string& p : paths) {
    std::optional<ModuleSymbols> ms = sym.symbols(p);
    if (ms && !ms->symtab && !ms->debuginfo) out.push_back({p, ms->build_id, {}});
  }
  return out;
}

} // namespace

uint64_t SiteAgg::size_quantile(double q) const {
  if (!sizes.empty() && sizes.size() < kMaxSizes) {
    uint64_t total = 0;
    for (auto& [s, n] : sizes) total += n;
    uint64_t want = saturate_u64(std::ceil(q * static_cast<double>(total)));
    uint64_t acc = 0;
    for (auto& [s, n] : sizes) {
      acc += n;
      if (acc >= want && acc > 0) return s;
    }
    return sizes.rbegin()->first;
  }
  uint64_t total = 0;
  for (uint64_t n : size_hist) total += n;
  uint64_t want = saturate_u64(std::ceil(q * static_cast<double>(total))), acc = 0;
  for (uint32_t b = 0; b < kHistBuckets; ++b) {
    acc += size_hist[b];
    if (acc >= want && acc > 0) return b == 0 ? 0 : (uint64_t{1} << b) - 1; // bucket's top
  }
  return 0;
}

uint64_t SiteAgg::gap_median_ns() const {
  uint64_t total = 0;
  for (uint64_t n : gap_hist) total += n;
  uint64_t acc = 0;
  for (uint32_t b = 0; b < gap_hist.size(); ++b) {
    acc += gap_hist[b];
    if (total && acc * 2 >= total) return b == 0 ? 0 : uint64_t{1} << (b - 1);
  }
  return 0;
}

std::string SiteAgg::top_path() const {
  std::string best;
  uint64_t n = 0;
  for (auto& [p, c] : paths)
    if (c > n) best = p, n = c;
  return best;
}

std::string site_text(const SiteAgg& a) {
  if (a.python) return frame_text(*a.python, SourcePaths::base);
  if (!a.caller) return frame_text(a.frame, SourcePaths::base);
  return fmt::format("{} via {}", frame_text(*a.caller, SourcePaths::base), library_text(a.frame));
}

RunModel::RunModel() = default;
RunModel::~RunModel() = default;
RunModel::RunModel(RunModel&&) noexcept = default;
RunModel& RunModel::operator=(RunModel&&) noexcept = default;

void RunModel::index_sites() {
  index_of_id.assign(sites.size(), SIZE_MAX);
  for (size_t i = 0; i < sites.size(); ++i) {
    if (sites[i].id >= index_of_id.size()) index_of_id.resize(sites[i].id + 1, SIZE_MAX);
    index_of_id[sites[i].id] = i;
  }
}

const SiteAgg* RunModel::by_id(size_t id) const {
  return id < index_of_id.size() && index_of_id[id] < sites.size() ? &sites[index_of_id[id]]
                                                                    : nullptr;
}

bool stream_kind(uint8_t kind) {
  switch (static_cast<FdKind>(kind)) {
  case FdKind::regular: case FdKind::pipe: case FdKind::fifo: case FdKind::tcp:
  case FdKind::unix_stream: case FdKind::tty:
    return true;
  default: return false;
  }
}

bool datagram_kind(uint8_t kind) {
  auto k = static_cast<FdKind>(kind);
  return k == FdKind::udp || k == FdKind::unix_dgram || k == FdKind::unix_seqpacket;
}

bool peer_kind(uint8_t kind) {
  switch (static_cast<FdKind>(kind)) {
  case FdKind::pipe: case FdKind::fifo: case FdKind::tcp: case FdKind::udp:
  case FdKind::unix_stream: case FdKind::unix_dgram: case FdKind::unix_seqpacket:
  case FdKind::other_socket: case FdKind::tty:
    return true;
  default: return false;
  }
}

const SiteAgg* RunModel::find(const std::string& key) const {
  for (const SiteAgg& s : sites)
    if (s.key == key) return &s;
  return nullptr;
}

// ---- the whole run ----

namespace {

/// The calls a run record may stand for (R-08). Its count is 32 bits the shim wrote without a
/// checksum: a damaged one must neither inflate the figures nor, expanded, take minutes. A run
/// cannot have more calls than its counter row (exact, and every event of the row takes its
/// share) nor more than one call per nanosecond of its time span. Beyond that it is damage:
/// cut to the bound, and reported.
class RunCheck {
public:
  RunCheck(const Trace& t, double ns_per_tick) : t_(t), ns_per_tick_(ns_per_tick) {}

  uint64_t plausible_calls(const EventRecord& e, EventSource src, const uint64_t* calls_left) {
    const uint64_t claimed = event_calls(e);
    const uint64_t span = event_last_ticks(e) - std::min(e.ticks, event_last_ticks(e));
    const uint64_t ns = saturate_u64(static_cast<double>(span) * ns_per_tick_);
    const uint64_t by_time = ns == UINT64_MAX ? ns : ns + 1;
    const uint64_t by_counter = calls_left ? std::max<uint64_t>(*calls_left, 1) : UINT64_MAX;
    const uint64_t bound = std::min(by_time, by_counter);
    if (claimed <= bound) return claimed;
    if (++damaged_ <= kShown)
      problems_.push_back(
          {t_.name + (src == EventSource::file ? ".vev" : ".vseg"),
           fmt::format(
               "a run record (site {}, {} on fd {}) claims {} calls, but {}; taken as {} "
               "(damaged record)",
               e.site == kSiteUnknown ? std::string("?") : std::to_string(e.site),
               op_name(static_cast<Op>(e.op)), e.fd, claimed,
               by_counter < by_time
                   ? fmt::format("its counter row has only {} calls left", *calls_left)
                   : fmt::format("its time span of {} ticks allows at most {}", span, by_time),
               bound)});
    return bound;
  }

  void finish(std::vector<Problem>& out) {
    out.insert(out.end(), problems_.begin(), problems_.end());
    if (damaged_ > kShown)
      out.push_back({t_.name + ".vev", fmt::format("{} more run records claimed more calls than "
                                                   "possible and were cut",
                                                   damaged_ - kShown)});
  }

private:
  static constexpr uint64_t kShown = 5;
  const Trace& t_;
  double ns_per_tick_;
  uint64_t damaged_ = 0;
  std::vector<Problem> problems_;
};

} // namespace

namespace {

/// What the modules of a process say about the language it runs (RuntimeBits).
uint32_t runtimes_of(const Trace& t, const std::string& exe) {
  uint32_t r = 0;
  auto note = [&](const std::string& name) {
    if (name.starts_with("libpython") || (name.starts_with("python") && name.size() <= 10))
      r |= kRuntimePython;
    if (name.starts_with("libperl") || name == "perl" || name.starts_with("perl5")) r |= kRuntimePerl;
    if (name == "libjvm.so") r |= kRuntimeJava;
    if (name.starts_with("libnode.so") || name == "node" || name == "nodejs") r |= kRuntimeNode;
    if (name.starts_with("libruby") || name.starts_with("ruby")) r |= kRuntimeRuby;
    if (name.starts_with("libstdc++")) r |= kRuntimeCxx;
  };
  note(base_name(exe));
  for (const ModuleRow& mr : t.modules)
    note(base_name(std::string(fixed_string(mr.path))));
  return r;
}

bool has_uring(const Trace& t) {
  for (const ModuleRow& mr : t.modules)
    if (base_name(std::string(fixed_string(mr.path))).starts_with("liburing")) return true;
  return false;
}

/// Per pipe, FIFO, socket or tty (by the path the shim read: "pipe:[123]"), the process images
/// that read from it (by their counters' latest fd): a second reader, or an fd inherited from
/// the parent, makes reading ahead take bytes that belong to someone else.
// Why buffering this process's writes to fds 0-2 could reorder its output: the kernel saw
// writes valley did not (stdio flushing its FILE buffer, a raw syscall), and those would
// overtake the bytes the coalescer holds. "" when every write went through valley.
std::string stdio_unsafe(const ProcessSummary& ps) {
  if (!ps.coverage_valid)
    return fmt::format("process {} ({}) has no kernel syscall counts to rule out writes valley "
                       "did not see",
                       ps.name, ps.program);
  if (ps.kernel_writes > ps.seen_writes)
    return fmt::format("process {} ({}) made {} writes valley did not intercept (stdio's own "
                       "flushes or raw syscalls), which buffered bytes on the same fd could "
                       "overtake",
                       ps.name, ps.program, ps.kernel_writes - ps.seen_writes);
  return "";
}

class SharedInputs {
public:
  explicit SharedInputs(const RunDir& run) {
    for (size_t i = 0; i < run.traces.size(); ++i) {
      const Trace& t = run.traces[i];
      for (const CounterEntry& c : t.counters) {
        const FileRow* f = row(t, c.data.last_file);
        if (f && reads(c.data.key)) readers_[std::string(fixed_string(f->path))].insert(i);
      }
    }
  }

  /// Why reading ahead at this counter row of trace `i` is unsafe, or "".
  std::string why(const RunDir& run, size_t i, const CounterRow& r) const {
    const Trace& t = run.traces[i];
    const FileRow* f = row(t, r.last_file);
    if (!f || !reads(r.key)) return "";
    if (f->fd >= 0 && f->fd <= 2)
      return fmt::format("fd {} is inherited from the parent, which (or whose next command) "
                         "reads on from where this process stops",
                         f->fd);
    auto it = readers_.find(std::string(fixed_string(f->path)));
    if (it == readers_.end()) return "";
    for (size_t j : it->second)
      if (j != i)
        return fmt::format("{} is also read by process {} of this run",
                           std::string(fixed_string(f->path)), run.traces[j].name);
    return "";
  }

private:
  static const FileRow* row(const Trace& t, uint32_t id) {
    return id >= 1 && id <= t.files.size() ? &t.files[id - 1] : nullptr;
  }
  static bool reads(uint64_t key) {
    const Op op = key_op(key);
    const uint8_t o = static_cast<uint8_t>(op);
    return key != kCatchAllKey && o >= 1 && o <= kOpMax && op_moves_data(op) &&
           !op_is_output(op) && peer_kind(static_cast<uint8_t>(key_kind(key)));
  }
  std::map<std::string, std::set<size_t>> readers_;
};

} // namespace

namespace {

std::string hex_id(const uint8_t* b, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i)
    s += fmt::format("{:02x}", b[i]);
  return s;
}

/// With several runs, what makes a module the same file in each: its build-id, else its path
/// (R-12: two builds at one path must not merge).
class ModuleIdentity {
public:
  explicit ModuleIdentity(const Trace& t) {
    for (const ModuleRow& mr : t.modules) {
      const size_t n = std::min<size_t>(mr.build_id_len, sizeof mr.build_id);
      ids_[std::string(fixed_string(mr.path))] = hex_id(mr.build_id, n);
    }
  }
  /// "@<build-id>" or "@path:<path>" (noting the path in `by_path`).
  std::string of(const Frame& f, std::set<std::string>& by_path) const {
    if (f.module.empty()) return "@?";
    const auto it = ids_.find(f.module);
    if (it != ids_.end() && !it->second.empty()) return "@" + it->second.substr(0, 16);
    by_path.insert(f.module);
    return "@path:" + f.module;
  }

private:
  std::map<std::string, std::string> ids_;
};

} // namespace

RunModel build_run_model(const std::string& dir, const AdvisorSettings& s,
                         const std::vector<const AnalysisDef*>& defs) {
  return build_run_model(std::vector<std::string>{dir}, s, defs, ProcessFilter{});
}

RunModel build_run_model(const std::vector<std::string>& dirs, const AdvisorSettings& s,
                         const std::vector<const AnalysisDef*>& defs, const ProcessFilter& filter) {
  RunModel m;
  m.dir = dirs.empty() ? std::string() : dirs.front();
  m.dirs = dirs;
  const bool several = dirs.size() > 1;
  std::set<std::string> by_path;
  std::vector<Analysis*> analyses;
  {
    std::set<const AnalysisDef*> made;
    for (const AnalysisDef* d : defs)
      if (made.insert(d).second) {
        m.analyses.push_back(d->make(s));
        analyses.push_back(m.analyses.back().get());
      }
  }
  Symbolizer symbolizer;
  std::map<std::string, size_t> index;
  std::vector<std::unordered_map<std::string, size_t>> stack_index; // per site: stack → index
  for (size_t ri = 0; ri < dirs.size(); ++ri) {
    RunDir run = read_run_dir(dirs[ri]);
    // With several runs, "3-1.vseg" could be any of them: problems name the run directory.
    auto where = [&](Problem p) {
      if (several) p.file = (std::filesystem::path(dirs[ri]) / p.file).string();
      return p;
    };
    for (const Problem& p : run.problems)
      m.problems.push_back(where(p));
    const SharedInputs shared(run);
    for (size_t ti = 0; ti < run.traces.size(); ++ti) {
      const Trace& t = run.traces[ti];
      ProcessSummary ps;
      ps.name = several ? (std::filesystem::path(dirs[ri]) / t.name).string() : t.name;
      ps.pid = t.pid;
      ps.run = ri;
      ps.readable = t.header_valid;
      if (filter.active()) {
        const ProcessInfo fi = t.header_valid ? describe(t, run) : ProcessInfo{};
        const std::string exe = t.header_valid ? std::string(fixed_string(t.header.exe)) : "";
        if (!filter.matches(t.pid, fi.argv, exe)) {
          ++m.processes_left_out;
          continue;
        }
      }
      for (const Problem& p : t.problems)
        m.problems.push_back(where(p));
      if (!t.header_valid) {
        m.processes.push_back(ps);
        continue;
      }
      const ModuleIdentity identity(t);
      const SegmentHeader& h = t.header;
      ps.exe = std::string(fixed_string(h.exe));
      ps.coverage_valid = h.coverage.valid == 1;
      ps.kernel_reads = h.coverage.kernel_syscr;
      ps.kernel_writes = h.coverage.kernel_syscw;
      ps.seen_reads = h.coverage.seen_reads;
      ps.seen_writes = h.coverage.seen_writes;
      ps.dropped = h.events_dropped;
      ps.counters_full = h.state & kStateCountersFull;
      ps.sites_full = h.sites_full;
      ps.killed = !(h.state & (kStateFinished | kStateExec));
      ps.runtimes = runtimes_of(t, ps.exe);
      ps.uring = has_uring(t);
      ProcessInfo info = describe(t, run);
      ps.program = program_name(info.argv, ps.exe);
      ps.duration_ns = info.duration_ns;
      TraceModel tm = build_trace_model(t, symbolizer);

      struct CounterRef {
        int agg;
        uint64_t calls_left; ///< calls of the row not yet accounted for by events
      };
      std::unordered_map<uint64_t, CounterRef> by_counter_key;
      std::unordered_map<uint32_t, int> writer_agg; ///< site id -> the site's output aggregate
      for (const CounterEntry& c : t.counters) {
        const CounterRow& r = c.data;
        if (r.key == kCatchAllKey) continue;
        const uint32_t site = key_site(r.key);
        const uint8_t op = static_cast<uint8_t>(key_op(r.key)),
                      kind = static_cast<uint8_t>(key_kind(r.key));
        if (site == kSiteFlush) {
          ps.flush_writes += r.calls;
          continue;
        }
        if (op == 0 || op > kOpMax) continue;
        if (op_is_socket(static_cast<Op>(op))) ps.socket_calls += r.calls;
        // The kernel counts a copy between fds (copy_file_range, sendfile) as a read and a write.
        if (op_kernel_reads(static_cast<Op>(op)) && op_kernel_writes(static_cast<Op>(op)))
          ps.copy_calls += r.calls;
        const SiteModel* sm = tm.site(site);
        std::string loc = "?";
        // One source line (with its inline chain) is one site, even when it holds several calls
        // (a ?: of two writes). A call made inside a library is also split by the library's
        // line or return address: each of its functions that does I/O is a site of its own (S-08).
        if (sm) loc = location_key(sm->frame) + (sm->caller ? "/" + location_key(*sm->caller) : "");
        // A Python line is a site of its own (one native return address serves all of them).
        // Its frames down to the program's and the one that called that: a helper called from
        // two places is two sites.
        if (sm && !sm->python.empty()) {
          std::string py;
          for (size_t i = 0; i < sm->python.size() && i <= sm->program + 1; ++i)
            py += location_key(sm->python[i]) + "<";
          loc = py + "@" + loc;
        }
        std::string key = fmt::format("{}:{}:{}", loc, op_name(static_cast<Op>(op)),
                                      fd_kind_name(static_cast<FdKind>(kind))
                                          ? fd_kind_name(static_cast<FdKind>(kind))
                                          : "?");
        // Across runs a line of source is the same site only in the same build of its module(s).
        if (several && sm)
          key += identity.of(sm->frame, by_path) +
                 (sm->caller ? identity.of(*sm->caller, by_path) : "");
        auto [it, fresh] = index.try_emplace(key, m.sites.size());
        if (fresh) {
          SiteAgg a;
          a.id = m.sites.size();
          a.key = key;
          a.op = op;
          a.kind = kind;
          a.output = op_is_output(static_cast<Op>(op));
          a.positional = op_is_positional(static_cast<Op>(op));
          a.mmsg = op_is_mmsg(static_cast<Op>(op));
          if (sm) {
            a.frame = sm->frame;
            a.caller = sm->caller;
            if (!sm->python.empty()) a.python = sm->location();
          }
          m.sites.push_back(std::move(a));
        }
        SiteAgg& a = m.sites[it->second];
        if (sm && !sm->frame.module.empty()) a.shim_sites.insert(module_offset_name(sm->frame));
        by_counter_key[r.key] = {static_cast<int>(it->second), r.calls};
        if (a.output) writer_agg.try_emplace(site, static_cast<int>(it->second));
        a.runtimes |= ps.runtimes;
        a.calls += r.calls;
        a.errors += r.errors;
        a.bytes += r.bytes;
        a.requested += r.requested;
        a.zero_results += r.zero_results;
        a.time_ns += static_cast<double>(r.ticks) * info.clock.ns_per_tick;
        for (uint32_t b = 0; b < kHistBuckets; ++b)
          a.size_hist[b] += r.size_hist[b];
        a.pids.insert(uint64_t{ri} << 32 | t.pid);
        if (r.last_file >= 1 && r.last_file <= t.files.size()) {
          const FileRow& file = t.files[r.last_file - 1];
          std::string p(fixed_string(file.path));
          if (a.paths.size() < 8 || a.paths.count(p)) a.paths[p] += r.calls;
          if (file.fd >= 0 && file.fd <= 2 && a.output) {
            a.stdio_fds.insert(file.fd);
            if (a.stdio_unsafe.empty()) a.stdio_unsafe = stdio_unsafe(ps);
          }
        }
        if (a.shared_input.empty()) a.shared_input = shared.why(run, ti, r);
        if (sm) {
          if (stack_index.size() < m.sites.size()) stack_index.resize(m.sites.size());
          auto& seen = stack_index[it->second];
          for (uint32_t id : sm->stacks) {
            auto [at, fresh_stack] =
                seen.try_emplace(stack_key(tm.stacks[id - 1]), a.stacks.size());
            if (fresh_stack) a.stacks.push_back({tm.stacks[id - 1], 0});
            a.stacks[at->second].hits += t.stacks[id - 1].hits;
          }
        }
      }

      const ProcessContext ctx{t, tm, info.clock.ns_per_tick};
      for (Analysis* an : analyses)
        an->begin_process(ctx);
      EventPass pass(m.sites, info.clock.ns_per_tick, analyses);
      std::vector<Problem> ev_problems;
      RunCheck runs(t, info.clock.ns_per_tick);
      EventTally tally = read_events(
          t,
          [&](const EventRecord& e, EventSource src) {
            if (e.site == kSiteFlush || (e.flags & kEventFlush)) {
              // Why the coalescer wrote out the buffer whose latest write came from this site.
              const auto w = writer_agg.find(flush_note_site(e.offset));
              if (w != writer_agg.end())
                ++m.sites[static_cast<size_t>(w->second)]
                      .flush_reasons[static_cast<size_t>(flush_note_reason(e.offset))];
              return;
            }
            auto it = by_counter_key.find(
                counter_key(e.site, static_cast<Op>(e.op), static_cast<FdKind>(e.fd_kind)));
            CounterRef* ref = it == by_counter_key.end() ? nullptr : &it->second;
            const int agg = ref ? ref->agg : -1;
            if (agg >= 0 && e.reserved && e.reserved < static_cast<uint8_t>(Straight::count) &&
                !(e.flags & kEventCoalesced))
              ++m.sites[static_cast<size_t>(agg)].straight[e.reserved];
            if (!(e.flags & kEventRun)) {
              if (ref && ref->calls_left) --ref->calls_left;
              pass.event(e, agg);
              return;
            }
            const uint64_t calls = runs.plausible_calls(e, src, ref ? &ref->calls_left : nullptr);
            if (ref) ref->calls_left -= std::min(ref->calls_left, calls);
            pass.run(e, calls, agg);
          },
          ev_problems);
      runs.finish(ev_problems);
      pass.finish();
      for (Problem& p : ev_problems)
        m.problems.push_back(where(std::move(p)));
      ps.events = tally.total();
      ps.torn = tally.torn;
      ps.invalid = tally.invalid;
      m.flush_writes += ps.flush_writes;
      m.wall_ns = std::max(m.wall_ns, ps.duration_ns);
      m.processes.push_back(ps);
    }
  }
  m.merged_by_path.assign(by_path.begin(), by_path.end());
  for (SiteAgg& a : m.sites) {
    std::stable_sort(a.stacks.begin(), a.stacks.end(),
                     [](const StackView& x, const StackView& y) { return x.hits > y.hits; });
    if (a.stacks.size() > s.top_stacks) a.stacks.resize(s.top_stacks);
  }
  m.unnamed_modules = unnamed_modules(m.sites, symbolizer);
  // A run had the coalescer on when it absorbed a call or said why it let one go around.
  for (const SiteAgg& a : m.sites)
    for (uint64_t n : a.straight)
      if (a.coalesced || n) m.coalesced_run = true;
  if (m.flush_writes) m.coalesced_run = true;
  std::sort(m.sites.begin(), m.sites.end(),
            [](const SiteAgg& x, const SiteAgg& y) { return x.key < y.key; });
  m.index_sites();
  compute_costs(m);
  for (Analysis* an : analyses)
    an->finish(m);
  return m;
}

} // namespace valley::advisor
