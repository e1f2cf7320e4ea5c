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

bool is_positional(uint8_t op) {
  switch (static_cast<Op>(op)) {
  case Op::pwrite: case Op::pwrite64: case Op::pwritev: case Op::pwritev64: case Op::pwritev2:
  case Op::pwritev64v2: case Op::pread: case Op::pread64: case Op::preadv: case Op::preadv64:
  case Op::preadv2: case Op::preadv64v2: case Op::pread_chk: case Op::pread64_chk:
    return true;
  default: return false;
  }
}

bool is_mmsg(uint8_t op) {
  return op == static_cast<uint8_t>(Op::sendmmsg) || op == static_cast<uint8_t>(Op::recvmmsg);
}

std::string base_name(const std::string& p) {
  size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

std::string frame_key(const Frame& f) {
  if (f.module.empty()) return fmt::format("0x{:x}", f.address);
  return fmt::format("{}+0x{:x}", base_name(f.module), f.offset);
}

std::string frames_key(const std::vector<Frame>& fs) {
  std::string k;
  for (const Frame& f : fs) k += frame_key(f) + ";";
  return k;
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

const SiteAgg* RunModel::find(const std::string& key) const {
  for (const SiteAgg& s : sites)
    if (s.key == key) return &s;
  return nullptr;
}

// ---- the event pass ----

EventPass::EventPass(std::vector<SiteAgg>& sites, const AdvisorSettings& s, double ns_per_tick)
    : sites_(sites), s_(s), ns_per_tick_(ns_per_tick) {
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
  FdState& f = fds_[e.fd];
  const size_t n = s_.buffer_sizes.size();
  if (f.kind != -1 && f.kind != e.fd_kind) { // closed and reopened as something else
    end_burst(f, false);
    for (size_t i = 0; i < f.buffers.size(); ++i) flush(f.buffers[i], i, f.last_ticks);
    f = FdState{};
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
    f.next_offset = e.offset + std::max<int64_t>(e.result, 0);
  }
  if (is_datagram(a.kind) && !is_mmsg(a.op)) {
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
    if (std::find(f.writers.begin(), f.writers.end(), agg) == f.writers.end()) f.writers.push_back(agg);
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

void EventPass::finish() {
  for (auto& [fd, f] : fds_) {
    end_burst(f, false);
    for (size_t i = 0; i < f.buffers.size(); ++i) flush(f.buffers[i], i, f.last_ticks);
  }
  // Buffers held at once: every fd a site wrote to or read from (an upper bound: an fd number
  // reused for another file counts once).
  std::map<int, std::set<int32_t>> fds_of;
  for (auto& [fd, f] : fds_) {
    for (const auto& p : f.read_avail) if (p.first >= 0) fds_of[p.first].insert(fd);
    if (f.last_pos_agg >= 0) fds_of[f.last_pos_agg].insert(fd);
    for (int w : f.writers) fds_of[w].insert(fd);
  }
  for (auto& [s, fds] : fds_of)
    for (ReplayResult& r : sites_[static_cast<size_t>(s)].replay)
      r.max_fds = std::max<uint64_t>(r.max_fds, fds.size());
  fds_.clear();
}

// ---- the whole run ----

RunModel build_run_model(const std::string& dir, const AdvisorSettings& s) {
  RunModel m;
  m.dir = dir;
  RunDir run = read_run_dir(dir);
  m.problems = run.problems;
  Symbolizer symbolizer;
  std::map<std::string, size_t> index;
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
    TraceModel tm = build_model(t, symbolizer);

    std::unordered_map<uint64_t, int> by_counter_key;
    for (const CounterEntry& c : t.counters) {
      const CounterRow& r = c.data;
      if (r.key == kCatchAllKey) continue;
      const uint32_t site = key_site(r.key);
      const uint8_t op = static_cast<uint8_t>(key_op(r.key)), kind = static_cast<uint8_t>(key_kind(r.key));
      if (site == kSiteFlush) {
        ps.flush_writes += r.calls;
        continue;
      }
      if (op == 0 || op > kOpMax) continue;
      const SiteModel* sm = tm.site(site);
      std::string loc = "?";
      if (sm) {
        // One source line is one site, even when it holds several calls (a ?: of two writes).
        const Frame& at = sm->caller ? *sm->caller : sm->frame;
        if (!at.function.empty() && !at.file.empty() && at.line > 0 && !at.build_id_mismatch)
          loc = fmt::format("{}:{}:{}:{}", base_name(at.module), at.function, at.file, at.line);
        else
          loc = frame_key(sm->frame) + (sm->caller ? "/" + frame_key(*sm->caller) : "");
      }
      std::string key = fmt::format("{}:{}:{}", loc, op_name(static_cast<Op>(op)),
                                    fd_kind_name(static_cast<FdKind>(kind)) ? fd_kind_name(static_cast<FdKind>(kind)) : "?");
      auto [it, fresh] = index.try_emplace(key, m.sites.size());
      if (fresh) {
        SiteAgg a;
        a.key = key;
        a.op = op;
        a.kind = kind;
        a.output = op_is_output(static_cast<Op>(op));
        a.positional = is_positional(op);
        if (sm) {
          a.frame = sm->frame;
          a.caller = sm->caller;
        }
        m.sites.push_back(std::move(a));
      }
      SiteAgg& a = m.sites[it->second];
      if (sm && !sm->frame.module.empty())
        a.shim_sites.insert(fmt::format("{}+0x{:x}", base_name(sm->frame.module), sm->frame.offset));
      by_counter_key[r.key] = static_cast<int>(it->second);
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
      if (sm && a.stacks.size() < s.top_stacks) {
        std::vector<uint32_t> ids = sm->stacks;
        std::sort(ids.begin(), ids.end(), [&](uint32_t x, uint32_t y) {
          return t.stacks[x - 1].hits > t.stacks[y - 1].hits;
        });
        for (uint32_t id : ids) {
          if (a.stacks.size() >= s.top_stacks) break;
          const auto& fr = tm.stacks[id - 1];
          std::string k = frames_key(fr);
          bool dup = false;
          for (StackView& v : a.stacks)
            if (frames_key(v.frames) == k) v.hits += t.stacks[id - 1].hits, dup = true;
          if (!dup) a.stacks.push_back({fr, t.stacks[id - 1].hits});
        }
      }
    }

    EventPass pass(m.sites, s, info.clock.ns_per_tick);
    std::vector<Problem> ev_problems;
    EventTally tally = read_events(
        t,
        [&](const EventRecord& e, EventSource) {
          if (e.site == kSiteFlush || (e.flags & kEventFlush)) return;
          auto it = by_counter_key.find(counter_key(e.site, static_cast<Op>(e.op), static_cast<FdKind>(e.fd_kind)));
          const int agg = it == by_counter_key.end() ? -1 : it->second;
          for_each_call(e, [&](const EventRecord& one) { pass.event(one, agg); });
        },
        ev_problems);
    pass.finish();
    for (Problem& p : ev_problems) m.problems.push_back(std::move(p));
    ps.events = tally.total();
    ps.torn = tally.torn;
    ps.invalid = tally.invalid;
    m.flush_writes += ps.flush_writes;
    m.processes.push_back(ps);
  }
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
