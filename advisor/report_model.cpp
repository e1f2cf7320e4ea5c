// SPDX-License-Identifier: MIT
/// @file report_model.cpp
/// @brief Builds the RunModel: counters and symbolized sites per trace, merged by location
/// across processes, then one pass over each trace's events for gaps, bursts, offsets and the
/// what-if replay.
#include "report_model.h"

#include "dump_model.h"
#include "process.h"
#include "text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace valley::advisor {
namespace {

bool is_datagram(uint8_t kind) {
  auto k = static_cast<FdKind>(kind);
  return k == FdKind::udp || k == FdKind::unix_dgram || k == FdKind::unix_seqpacket;
}

std::string base_name(const std::string& p) {
  size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

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
  if (!a.caller) return frame_text(a.frame, SourcePaths::base);
  return fmt::format("{} via {}", frame_text(*a.caller, SourcePaths::base), library_text(a.frame));
}

const SiteAgg* RunModel::find(const std::string& key) const {
  for (const SiteAgg& s : sites)
    if (s.key == key) return &s;
  return nullptr;
}

// ---- the event pass ----

EventPass::EventPass(std::vector<SiteAgg>& sites, const AdvisorSettings& s, double ns_per_tick)
    : sites_(sites), s_(s), ns_per_tick_(ns_per_tick), held_(sites.size()),
      max_held_(sites.size()) {
  for (SiteAgg& a : sites_)
    if (a.replay.size() != s_.buffer_sizes.size()) {
      a.replay.assign(s_.buffer_sizes.size(), {});
      for (size_t i = 0; i < a.replay.size(); ++i) a.replay[i].buffer_size = s_.buffer_sizes[i];
    }
}

void EventPass::flush(Buffer& buf, size_t i, uint64_t now) {
  if (buf.empty()) return;
  uint64_t total = 0;
  for (auto& [s, n] : buf.calls) total += n;
  const double age = static_cast<double>(now - std::min(now, buf.first_ticks)) * ns_per_tick_;
  for (auto& [s, n] : buf.calls) {
    ReplayResult& r = sites_[static_cast<size_t>(s)].replay[i];
    r.syscalls_after += static_cast<double>(n) / static_cast<double>(total);
    r.max_delay_ns = std::max(r.max_delay_ns, age);
  }
  buf = Buffer{};
}

EventPass::FdState& EventPass::state(int32_t fd) {
  ++clock_;
  auto it = fds_.find(fd);
  if (it == fds_.end()) {
    if (fds_.size() >= kMaxFds) {
      // Retire the half idle longest: amortized O(1) per new fd.
      std::vector<std::pair<uint64_t, int32_t>> by_use;
      by_use.reserve(fds_.size());
      for (const auto& [n, f] : fds_)
        by_use.emplace_back(f.used, n);
      auto mid = by_use.begin() + static_cast<ptrdiff_t>(by_use.size() / 2);
      std::nth_element(by_use.begin(), mid, by_use.end());
      std::sort(by_use.begin(), mid); // retire in the order they were last used
      for (auto p = by_use.begin(); p != mid; ++p) {
        retire(fds_.at(p->second));
        fds_.erase(p->second);
      }
    }
    it = fds_.try_emplace(fd).first;
  }
  it->second.used = clock_;
  return it->second;
}

void EventPass::hold(FdState& f, int agg) {
  if (std::find(f.holders.begin(), f.holders.end(), agg) != f.holders.end()) return;
  f.holders.push_back(agg);
  const auto s = static_cast<size_t>(agg);
  max_held_[s] = std::max(max_held_[s], ++held_[s]);
}

// What the end of the trace does to an fd: a burst not ended by a read is no burst, pending
// buffers flush at the fd's last call, and its sites no longer hold a buffer for it.
void EventPass::retire(FdState& f) {
  end_burst(f, false);
  for (size_t i = 0; i < f.buffers.size(); ++i)
    flush(f.buffers[i], i, f.last_ticks);
  for (int agg : f.holders)
    --held_[static_cast<size_t>(agg)];
  f.holders.clear();
}

void EventPass::end_burst(FdState& f, bool by_read) {
  if (by_read && f.burst.size() >= 2 && f.burst.size() <= s_.gather_max_burst) {
    SiteAgg& first = sites_[static_cast<size_t>(f.burst.front())];
    ++first.gather_bursts;
    first.gather_burst_calls += f.burst.size();
    for (int a : f.burst) {
      ++sites_[static_cast<size_t>(a)].gather_calls;
      if (a != f.burst.front()) ++first.gather_partners[sites_[static_cast<size_t>(a)].key];
    }
  }
  f.burst.clear();
}

// The replay keeps, per fd and buffer size, one pending flush: the writes it holds, by site.
// A flush is one syscall, shared among the sites whose calls it carries (in proportion).
void EventPass::event(const EventRecord& e, int agg) {
  if (agg < 0) return;
  SiteAgg& a = sites_[static_cast<size_t>(agg)];
  ++a.events;
  if (e.flags & kEventCoalesced) ++a.coalesced;
  if (a.sizes.size() < kMaxSizes || a.sizes.count(e.size)) ++a.sizes[e.size];
  FdState& f = state(e.fd);
  const size_t n = s_.buffer_sizes.size();
  if (f.kind != -1 && f.kind != e.fd_kind) { // closed and reopened as something else
    retire(f);
    f = FdState{};
    f.used = clock_;
  }
  f.kind = e.fd_kind;
  if (f.buffers.empty()) {
    f.buffers.resize(n);
    f.read_avail.assign(n, {-1, 0});
  }
  const double gap_ns = f.seen ? static_cast<double>(e.ticks - std::min(e.ticks, f.last_ticks)) * ns_per_tick_ : 0;
  a.gap_hist[bucket_of(saturate_u64(gap_ns)) & 63]++;
  f.seen = true;
  f.last_ticks = e.ticks;

  const bool contiguous = a.positional && e.offset == f.next_offset && f.last_pos_agg == agg;
  if (a.positional) {
    if (contiguous) ++a.sequential;
    f.last_pos_agg = agg;
    hold(f, agg);
    // A damaged offset near INT64_MAX must not overflow: then nothing continues it.
    if (__builtin_add_overflow(e.offset, std::max<int64_t>(e.result, 0), &f.next_offset))
      f.next_offset = -1;
  }
  if (is_datagram(a.kind) && !op_is_mmsg(static_cast<Op>(a.op))) {
    if (f.dgram_agg == agg && f.dgram_run < s_.datagram_batch &&
        gap_ns <= static_cast<double>(s_.max_age_ms) * 1e6) {
      ++f.dgram_run;
    } else {
      ++a.datagram_runs;
      f.dgram_agg = agg;
      f.dgram_run = 1;
    }
    return;
  }
  const double age_limit = static_cast<double>(s_.max_age_ms) * 1e6;
  if (a.output) {
    if (f.burst.size() <= s_.gather_max_burst) f.burst.push_back(agg);
    hold(f, agg);
    for (size_t i = 0; i < n; ++i) {
      f.read_avail[i] = {-1, 0}; // a reply may depend on this write: no read-ahead across it
      const uint64_t cap = s_.buffer_sizes[i];
      Buffer& buf = f.buffers[i];
      const double age = static_cast<double>(e.ticks - std::min(e.ticks, buf.first_ticks)) * ns_per_tick_;
      if (!buf.empty() && (buf.bytes + e.size > cap || age > age_limit)) flush(buf, i, e.ticks);
      if (e.size >= cap) {
        a.replay[i].syscalls_after += 1;
        continue;
      }
      if (buf.empty()) buf.first_ticks = e.ticks;
      buf.bytes += e.size;
      auto it = std::find_if(buf.calls.begin(), buf.calls.end(), [&](auto& p) { return p.first == agg; });
      if (it == buf.calls.end()) buf.calls.push_back({agg, 1});
      else ++it->second;
    }
  } else {
    end_burst(f, true);
    hold(f, agg);
    for (size_t i = 0; i < n; ++i) {
      flush(f.buffers[i], i, e.ticks); // flush before any read of the fd
      // A buffered reader: one read of the buffer size serves the following small reads.
      const uint64_t cap = s_.buffer_sizes[i];
      auto& [owner, avail] = f.read_avail[i];
      const bool continues = owner == agg && (!a.positional || contiguous);
      if (continues && avail >= e.size && e.result == static_cast<int32_t>(e.size)) {
        avail -= e.size;
      } else {
        a.replay[i].syscalls_after += 1;
        owner = agg;
        avail = (e.result > 0 && static_cast<uint64_t>(e.result) == e.size && e.size < cap) ? cap - e.size : 0;
      }
    }
  }
}

// Call k of a run (0 <= k <= last) begins at first + span * k / last, as for_each_call has it.
struct EventPass::Spread {
  uint64_t first, span, last;
  uint64_t at(uint64_t k) const {
    return first + static_cast<uint64_t>(static_cast<unsigned __int128>(span) * k / last);
  }
};

// Calls 1..t.last of a run of writes smaller than the buffer, call 0 already in `buf`. Each
// step jumps to the call that flushes (the buffer is full, or its first byte too old), found
// by bisection on the same predicate event() applies. After a few exact steps the buffer holds
// only this site's calls and every later flush looks alike: the rest is counted at once.
void EventPass::replay_run(Buffer& buf, size_t i, int agg, uint32_t size, const Spread& t) {
  const uint64_t cap = s_.buffer_sizes[i];
  const double age_limit = static_cast<double>(s_.max_age_ms) * 1e6;
  ReplayResult& r = sites_[static_cast<size_t>(agg)].replay[i];
  auto too_old = [&](uint64_t k) {
    const uint64_t now = t.at(k);
    return static_cast<double>(now - std::min(now, buf.first_ticks)) * ns_per_tick_ > age_limit;
  };
  auto absorb = [&](uint64_t n) {
    buf.bytes += n * size;
    auto it =
        std::find_if(buf.calls.begin(), buf.calls.end(), [&](auto& p) { return p.first == agg; });
    if (it == buf.calls.end())
      buf.calls.push_back({agg, n});
    else
      it->second += n;
  };
  constexpr int kExactSteps = 16;
  uint64_t k = 1; // the next call
  for (int step = 0; k <= t.last; ++step) {
    // The first call that does not fit; a zero-size write never fills the buffer.
    uint64_t flush_at = size == 0 ? UINT64_MAX : k + (cap - std::min(cap, buf.bytes)) / size;
    uint64_t lo = k, hi = std::min(flush_at, t.last + 1); // the first too-old call is in [lo, hi]
    while (lo < hi) {
      const uint64_t mid = lo + (hi - lo) / 2;
      if (too_old(mid))
        hi = mid;
      else
        lo = mid + 1;
    }
    flush_at = lo;
    if (flush_at > t.last) { // the rest fits
      absorb(t.last - k + 1);
      return;
    }
    absorb(flush_at - k);
    const uint64_t chunk = flush_at - k + 1; // calls the buffer held (from step 1: all this site's)
    flush(buf, i, t.at(flush_at));
    buf.first_ticks = t.at(flush_at);
    absorb(1);
    if (step >= kExactSteps) {
      // Every later buffer holds `chunk` calls and is one syscall of this site's.
      const uint64_t rest = t.last - flush_at, flushes = rest / chunk;
      if (flushes == 0) {
        absorb(rest);
        return;
      }
      r.syscalls_after += static_cast<double>(flushes);
      const uint64_t held = rest - flushes * chunk + 1;
      buf.first_ticks = t.at(flush_at + flushes * chunk);
      buf.bytes = held * size;
      buf.calls = {{agg, held}};
      return;
    }
    k = flush_at + 1;
  }
}

void EventPass::run(const EventRecord& e, uint64_t calls, int agg) {
  if (agg < 0) return;
  EventRecord one = e;
  one.flags = static_cast<uint8_t>(e.flags & ~kEventRun);
  one.offset = -1;
  one.duration = 0;
  SiteAgg& a = sites_[static_cast<size_t>(agg)];
  const uint64_t last_ticks = std::max<uint64_t>(e.ticks, static_cast<uint64_t>(e.offset));
  if (calls < 2) {
    event(one, agg);
    return;
  }
  if (!a.output || a.positional || is_datagram(a.kind) || op_is_mmsg(static_cast<Op>(a.op))) {
    // Not a run the shim writes (the reader skips those): call by call, at most 2^32 - 1.
    EventRecord whole = e;
    whole.duration = static_cast<uint32_t>(std::min<uint64_t>(calls, UINT32_MAX));
    for_each_call(whole, [&](const EventRecord& c) { event(c, agg); });
    return;
  }
  const Spread t{e.ticks, last_ticks - e.ticks, calls - 1};
  event(one, agg); // call 0: the fd's state, a gap from the call before, read-ahead reset
  const uint64_t more = t.last;
  a.events += more;
  if (e.flags & kEventCoalesced) a.coalesced += more;
  if (auto it = a.sizes.find(e.size); it != a.sizes.end()) it->second += more;
  // The gaps between the calls are span / last ticks, rounded down or up.
  const uint64_t q = t.span / t.last, longer = t.span % t.last;
  a.gap_hist[bucket_of(saturate_u64(static_cast<double>(q) * ns_per_tick_)) & 63] += more - longer;
  if (longer)
    a.gap_hist[bucket_of(saturate_u64(static_cast<double>(q + 1) * ns_per_tick_)) & 63] += longer;
  FdState& f = fds_.at(e.fd); // event() made it
  f.last_ticks = last_ticks;
  if (f.burst.size() <= s_.gather_max_burst)
    f.burst.insert(f.burst.end(),
                   std::min<uint64_t>(more, s_.gather_max_burst + 1 - f.burst.size()), agg);
  for (size_t i = 0; i < s_.buffer_sizes.size(); ++i) {
    if (e.size >= s_.buffer_sizes[i]) {
      a.replay[i].syscalls_after += static_cast<double>(more); // each its own syscall
      continue;
    }
    replay_run(f.buffers[i], i, agg, e.size, t);
  }
}

void EventPass::finish() {
  std::vector<int32_t> order;
  order.reserve(fds_.size());
  for (const auto& [fd, f] : fds_)
    order.push_back(fd);
  std::sort(order.begin(), order.end()); // flushes add up in the same order every time
  for (int32_t fd : order)
    retire(fds_.at(fd));
  fds_.clear();
  for (size_t s = 0; s < max_held_.size(); ++s)
    for (ReplayResult& r : sites_[s].replay)
      r.max_fds = std::max(r.max_fds, max_held_[s]);
}

// ---- the whole run ----

namespace {

/// The calls a run record may stand for. Its count is 32 bits the shim wrote without a
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

RunModel build_run_model(const std::string& dir, const AdvisorSettings& s) {
  RunModel m;
  m.dir = dir;
  RunDir run = read_run_dir(dir);
  m.problems = run.problems;
  Symbolizer symbolizer;
  std::map<std::string, size_t> index;
  std::vector<std::unordered_map<std::string, size_t>> stack_index; // per site: stack → index
  for (const Trace& t : run.traces) {
    ProcessSummary ps;
    ps.name = t.name;
    ps.pid = t.pid;
    ps.readable = t.header_valid;
    for (const Problem& p : t.problems) m.problems.push_back(p);
    if (!t.header_valid) {
      m.processes.push_back(ps);
      continue;
    }
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
    ProcessInfo info = describe(t, run);
    ps.program = program_name(info.argv, ps.exe);
    TraceModel tm = build_model(t, symbolizer);

    struct CounterRef {
      int agg;
      uint64_t calls_left; ///< calls of the row not yet accounted for by events
    };
    std::unordered_map<uint64_t, CounterRef> by_counter_key;
    for (const CounterEntry& c : t.counters) {
      const CounterRow& r = c.data;
      if (r.key == kCatchAllKey) continue;
      const uint32_t site = key_site(r.key);
      const uint8_t op = static_cast<uint8_t>(key_op(r.key)), kind = static_cast<uint8_t>(key_kind(r.key));
      if (site == kSiteFlush) {
        ps.flush_writes += r.calls;
        continue;
      }
      // The report's figures are about moving data: syncs, copies, open, close and unlink
      // are not reads or writes.
      if (op == 0 || op > kOpMax || !op_moves_data(static_cast<Op>(op))) continue;
      const SiteModel* sm = tm.site(site);
      std::string loc = "?";
      // One source line (with its inline chain) is one site, even when it holds several calls
      // (a ?: of two writes). A call made inside a library is also split by the library's
      // line or return address: each of its functions that does I/O is a site of its own (S-08).
      if (sm) loc = location_key(sm->frame) + (sm->caller ? "/" + location_key(*sm->caller) : "");
      std::string key = fmt::format("{}:{}:{}", loc, op_name(static_cast<Op>(op)),
                                    fd_kind_name(static_cast<FdKind>(kind)) ? fd_kind_name(static_cast<FdKind>(kind)) : "?");
      auto [it, fresh] = index.try_emplace(key, m.sites.size());
      if (fresh) {
        SiteAgg a;
        a.key = key;
        a.op = op;
        a.kind = kind;
        a.output = op_is_output(static_cast<Op>(op));
        a.positional = op_is_positional(static_cast<Op>(op));
        if (sm) {
          a.frame = sm->frame;
          a.caller = sm->caller;
        }
        m.sites.push_back(std::move(a));
      }
      SiteAgg& a = m.sites[it->second];
      if (sm && !sm->frame.module.empty())
        a.shim_sites.insert(fmt::format("{}+0x{:x}", base_name(sm->frame.module), sm->frame.offset));
      by_counter_key[r.key] = {static_cast<int>(it->second), r.calls};
      a.calls += r.calls;
      a.errors += r.errors;
      a.bytes += r.bytes;
      a.requested += r.requested;
      a.zero_results += r.zero_results;
      a.time_ns += static_cast<double>(r.ticks) * info.clock.ns_per_tick;
      for (uint32_t b = 0; b < kHistBuckets; ++b) a.size_hist[b] += r.size_hist[b];
      a.pids.insert(t.pid);
      if (r.last_file >= 1 && r.last_file <= t.files.size()) {
        std::string p(fixed_string(t.files[r.last_file - 1].path));
        if (a.paths.size() < 8 || a.paths.count(p)) a.paths[p] += r.calls;
      }
      if (sm) {
        if (stack_index.size() < m.sites.size()) stack_index.resize(m.sites.size());
        auto& seen = stack_index[it->second];
        for (uint32_t id : sm->stacks) {
          auto [at, fresh_stack] = seen.try_emplace(stack_key(tm.stacks[id - 1]), a.stacks.size());
          if (fresh_stack) a.stacks.push_back({tm.stacks[id - 1], 0});
          a.stacks[at->second].hits += t.stacks[id - 1].hits;
        }
      }
    }

    EventPass pass(m.sites, s, info.clock.ns_per_tick);
    std::vector<Problem> ev_problems;
    RunCheck runs(t, info.clock.ns_per_tick);
    EventTally tally = read_events(
        t,
        [&](const EventRecord& e, EventSource src) {
          if (e.site == kSiteFlush || (e.flags & kEventFlush)) return;
          if (e.op != 0 && e.op <= kOpMax && !op_moves_data(static_cast<Op>(e.op))) return;
          auto it = by_counter_key.find(counter_key(e.site, static_cast<Op>(e.op), static_cast<FdKind>(e.fd_kind)));
          CounterRef* ref = it == by_counter_key.end() ? nullptr : &it->second;
          const int agg = ref ? ref->agg : -1;
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
    for (Problem& p : ev_problems) m.problems.push_back(std::move(p));
    ps.events = tally.total();
    ps.torn = tally.torn;
    ps.invalid = tally.invalid;
    m.flush_writes += ps.flush_writes;
    m.processes.push_back(ps);
  }
  for (SiteAgg& a : m.sites) {
    std::stable_sort(a.stacks.begin(), a.stacks.end(),
                     [](const StackView& x, const StackView& y) { return x.hits > y.hits; });
    if (a.stacks.size() > s.top_stacks) a.stacks.resize(s.top_stacks);
  }
  m.unnamed_modules = unnamed_modules(m.sites, symbolizer);
  for (const SiteAgg& a : m.sites)
    if (a.coalesced) m.coalesced_run = true;
  if (m.flush_writes) m.coalesced_run = true;
  // Saved time from the replay: the syscalls saved at the site's average cost.
  for (SiteAgg& a : m.sites)
    for (ReplayResult& r : a.replay) {
      if (a.events == 0) r.syscalls_after = static_cast<double>(a.calls);
      r.saved_ns = std::max(0.0, static_cast<double>(a.calls) - r.syscalls_after) * a.avg_ns();
      if (r.max_fds == 0) r.max_fds = 1;
    }
  std::sort(m.sites.begin(), m.sites.end(),
            [](const SiteAgg& x, const SiteAgg& y) { return x.key < y.key; });
  return m;
}

} // namespace valley::advisor
