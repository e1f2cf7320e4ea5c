// SPDX-License-Identifier: MIT
/// @file replay.cpp
/// @brief The what-if replay of write buffers and buffered readers, per fd and buffer size.
#include "analyses/replay.h"

#include "valley/flush_rules.h"

#include <algorithm>

namespace valley::advisor {

namespace {
std::unique_ptr<Analysis> make(const AdvisorSettings& s) { return std::make_unique<Replay>(s); }
std::unique_ptr<Analysis> make_coalescer(const AdvisorSettings& s) {
  return std::make_unique<CoalescerReplay>(s);
}
} // namespace

const AnalysisDef Replay::def{"replay", make};
const AnalysisDef CoalescerReplay::def{"coalescer-replay", make_coalescer};

struct Replay::Buffer { ///< what one replayed buffer holds
  uint64_t bytes = 0;
  uint64_t first_ticks = 0;
  std::vector<std::pair<size_t, uint64_t>> calls; ///< (site id, calls), few entries
  bool empty() const { return calls.empty(); }
  void absorb(size_t site, uint64_t n, uint64_t size) {
    bytes += n * size;
    auto it = std::find_if(calls.begin(), calls.end(), [&](auto& p) { return p.first == site; });
    if (it == calls.end())
      calls.push_back({site, n});
    else
      it->second += n;
  }
};

struct Replay::Fd : FdData {
  int32_t fd = -1;
  uint64_t last_ticks = 0;
  std::vector<size_t> holders; ///< sites that wrote to or read from the fd (each once, sorted)
  int64_t next_offset = -1;    ///< where the latest positional call ended
  int64_t last_pos_site = -1;
  std::vector<Buffer> buffers;                          ///< per buffer size: the writes held
  std::vector<std::pair<int64_t, uint64_t>> read_avail; ///< per buffer size: (site, bytes left)
};

Replay::Replay(const AdvisorSettings& s, bool coalescer) : s_(s), coalescer_(coalescer) {}
Replay::~Replay() = default;

void Replay::begin_process(const ProcessContext& p) {
  ns_per_tick_ = p.ns_per_tick;
  age_ticks_ = 0;
  buf_.assign(coalescer_ ? s_.buffer_sizes.size() : 0, Buffer{});
  buf_fd_ = -1;
}

Replay::Buffer& Replay::write_buffer(Fd& f, size_t i) { return coalescer_ ? buf_[i] : f.buffers[i]; }

void Replay::flush_process(uint64_t now, ReplayFlush why) {
  for (size_t i = 0; i < buf_.size(); ++i)
    flush(buf_[i], i, now, why);
  buf_fd_ = -1;
}

void Replay::before_call(Op op, FdKind kind, int32_t fd, bool mem_device, uint64_t now) {
  if (buf_fd_ < 0) return;
  const FlushCause c = flush_before_call(op, kind, fd == buf_fd_, mem_device);
  if (c != FlushCause::none) flush_process(now, static_cast<ReplayFlush>(c));
}

const Replay::Causes* Replay::causes(const SiteAgg& a, size_t i) const {
  const std::vector<Causes>* c = causes_.find(a);
  return c && i < c->size() ? &(*c)[i] : nullptr;
}

std::vector<ReplayResult>& Replay::rows(size_t site) {
  std::vector<ReplayResult>& r = rows_[site];
  if (r.size() != s_.buffer_sizes.size()) {
    r.assign(s_.buffer_sizes.size(), {});
    for (size_t i = 0; i < r.size(); ++i)
      r[i].buffer_size = s_.buffer_sizes[i];
  }
  return r;
}

const std::vector<ReplayResult>& Replay::of(const SiteAgg& a) const {
  static const std::vector<ReplayResult> none;
  const std::vector<ReplayResult>* r = rows_.find(a);
  return r ? *r : none;
}

// A flush is one syscall, shared among the sites whose calls it carries (in proportion). No
// byte waits longer than the age bound: the coalescer's flusher writes it out then, so a
// buffer found older at the next call was flushed when it reached the bound.
void Replay::flush(Buffer& buf, size_t i, uint64_t now, ReplayFlush why) {
  if (buf.empty()) return;
  uint64_t total = 0;
  for (auto& [s, n] : buf.calls)
    total += n;
  const double age_limit = static_cast<double>(s_.max_age_ms) * 1e6;
  const double age =
      std::min(age_limit, static_cast<double>(now - std::min(now, buf.first_ticks)) * ns_per_tick_);
  for (auto& [s, n] : buf.calls) {
    ReplayResult& r = rows(s)[i];
    r.syscalls_after += static_cast<double>(n) / static_cast<double>(total);
    r.max_delay_ns = std::max(r.max_delay_ns, age);
    if (coalescer_) {
      std::vector<Causes>& c = causes_[s];
      if (c.size() != s_.buffer_sizes.size()) c.assign(s_.buffer_sizes.size(), Causes{});
      c[i][static_cast<size_t>(why)] += static_cast<double>(n) / static_cast<double>(total);
    }
  }
  buf = Buffer{};
}

void Replay::hold(Fd& f, size_t site) {
  // Sorted: a lookup per call stays cheap when thousands of sites use one fd.
  const auto at = std::lower_bound(f.holders.begin(), f.holders.end(), site);
  if (at != f.holders.end() && *at == site) return;
  f.holders.insert(at, site);
  max_held_[site] = std::max(max_held_[site], ++held_[site]);
}

// What the end of the trace does to an fd: pending buffers flush at the fd's last call, and
// its sites no longer hold a buffer for it.
void Replay::retire(FdData& data) {
  Fd& f = static_cast<Fd&>(data);
  for (size_t i = 0; i < f.buffers.size(); ++i)
    flush(f.buffers[i], i, f.last_ticks, ReplayFlush::end);
  if (coalescer_ && f.fd == buf_fd_) flush_process(f.last_ticks, ReplayFlush::end);
  for (size_t site : f.holders)
    --held_[site];
  f.holders.clear();
}

void Replay::call(const Call& c, std::unique_ptr<FdData>& data) {
  if (!c.site) return;
  if (!data) {
    auto f = std::make_unique<Fd>();
    f->fd = c.e.fd;
    if (!coalescer_) f->buffers.resize(s_.buffer_sizes.size());
    f->read_avail.assign(s_.buffer_sizes.size(), {-1, 0});
    data = std::move(f);
  }
  Fd& f = static_cast<Fd&>(*data);
  const EventRecord& e = c.e;
  const SiteAgg& a = *c.site;
  const size_t site = a.id;
  const size_t n = s_.buffer_sizes.size();
  f.last_ticks = e.ticks;
  if (coalescer_) {
    uint8_t& mem = mem_device_[site]; // 0: not looked at yet, 1: no, 2: a memory device
    if (mem == 0) mem = mem_device_path(a.top_path()) ? 2 : 1;
    before_call(static_cast<Op>(e.op), static_cast<FdKind>(a.kind), e.fd, mem == 2, e.ticks);
  }
  if (!op_moves_data(static_cast<Op>(e.op))) {
    // A sync, a copy into or out of the fd, its close: the buffer is written first, and no
    // read-ahead survives a copy that moved the offset.
    for (size_t i = 0; i < n; ++i) {
      if (!coalescer_) flush(f.buffers[i], i, e.ticks, ReplayFlush::fd_call);
      f.read_avail[i] = {-1, 0};
    }
    return;
  }
  std::vector<ReplayResult>& r = rows(site);
  const bool contiguous =
      a.positional && e.offset == f.next_offset && f.last_pos_site == static_cast<int64_t>(site);
  if (a.positional) {
    f.last_pos_site = static_cast<int64_t>(site);
    hold(f, site);
    // A damaged offset near INT64_MAX must not overflow: then nothing continues it.
    if (__builtin_add_overflow(e.offset, std::max<int64_t>(e.result, 0), &f.next_offset))
      f.next_offset = -1;
  }
  if (datagram_kind(a.kind)) return; // messages are never merged (datagram-batch's case)
  const double age_limit = static_cast<double>(s_.max_age_ms) * 1e6;
  if (a.output) {
    hold(f, site);
    for (size_t i = 0; i < n; ++i) {
      f.read_avail[i] = {-1, 0}; // a reply may depend on this write: no read-ahead across it
      const uint64_t cap = s_.buffer_sizes[i];
      Buffer& buf = write_buffer(f, i);
      const double age =
          static_cast<double>(e.ticks - std::min(e.ticks, buf.first_ticks)) * ns_per_tick_;
      if (!buf.empty() && (buf.bytes + e.size > cap || age > age_limit)) flush(buf, i, e.ticks);
      if (e.size >= cap) {
        r[i].syscalls_after += 1;
        continue;
      }
      if (buf.empty()) buf.first_ticks = e.ticks;
      buf.absorb(site, 1, e.size);
      if (coalescer_) buf_fd_ = e.fd;
    }
  } else {
    hold(f, site);
    for (size_t i = 0; i < n; ++i) {
      if (!coalescer_) flush(f.buffers[i], i, e.ticks, ReplayFlush::read); // before any read of the fd
      // A buffered reader: one read of the buffer size serves the following small reads.
      const uint64_t cap = s_.buffer_sizes[i];
      auto& [owner, avail] = f.read_avail[i];
      const bool continues = owner == static_cast<int64_t>(site) && (!a.positional || contiguous);
      if (continues && avail >= e.size && e.result == static_cast<int32_t>(e.size)) {
        avail -= e.size;
      } else {
        r[i].syscalls_after += 1;
        owner = static_cast<int64_t>(site);
        avail = (e.result > 0 && static_cast<uint64_t>(e.result) == e.size && e.size < cap)
                    ? cap - e.size
                    : 0;
      }
    }
  }
}

// Calls 1..t.last of a run of writes smaller than the buffer, call 0 already in `buf`. Each
// step jumps to the call that flushes (the buffer is full, or its first byte too old), found
// by bisection on the same predicate call() applies. After a few exact steps the buffer holds
// only this site's calls and every later flush looks alike: the rest is counted at once.
void Replay::replay_run(Buffer& buf, size_t i, size_t site, uint32_t size, const Spread& t) {
  const uint64_t cap = s_.buffer_sizes[i];
  const double age_limit = static_cast<double>(s_.max_age_ms) * 1e6;
  ReplayResult& r = rows(site)[i];
  auto too_old = [&](uint64_t k) {
    const uint64_t now = t.at(k);
    return static_cast<double>(now - std::min(now, buf.first_ticks)) * ns_per_tick_ > age_limit;
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
      buf.absorb(site, t.last - k + 1, size);
      return;
    }
    buf.absorb(site, flush_at - k, size);
    const uint64_t chunk = flush_at - k + 1; // calls the buffer held (from step 1: all this site's)
    flush(buf, i, t.at(flush_at));
    buf.first_ticks = t.at(flush_at);
    buf.absorb(site, 1, size);
    if (step >= kExactSteps) {
      // Every later buffer holds `chunk` calls and is one syscall of this site's.
      const uint64_t rest = t.last - flush_at, flushes = rest / chunk;
      if (flushes == 0) {
        buf.absorb(site, rest, size);
        return;
      }
      r.syscalls_after += static_cast<double>(flushes);
      const uint64_t held = rest - flushes * chunk + 1;
      buf.first_ticks = t.at(flush_at + flushes * chunk);
      buf.bytes = held * size;
      buf.calls = {{site, held}};
      return;
    }
    k = flush_at + 1;
  }
}

void Replay::run(const Call& first, const Spread& t, std::unique_ptr<FdData>& data) {
  if (!first.site || !data) return;
  Fd& f = static_cast<Fd&>(*data);
  const SiteAgg& a = *first.site;
  f.last_ticks = t.at(t.last);
  std::vector<ReplayResult>& r = rows(a.id);
  for (size_t i = 0; i < s_.buffer_sizes.size(); ++i) {
    if (first.e.size >= s_.buffer_sizes[i]) {
      r[i].syscalls_after += static_cast<double>(t.last); // each its own syscall
      continue;
    }
    replay_run(write_buffer(f, i), i, a.id, first.e.size, t);
  }
  if (coalescer_) buf_fd_ = first.e.fd;
}

void Replay::end_process() {
  if (coalescer_) flush_process(0, ReplayFlush::end); // what the image's exit writes out
  for (size_t s = 0; s < max_held_.size(); ++s) {
    if (max_held_[s] == 0) continue;
    for (ReplayResult& r : rows(s))
      r.max_fds = std::max(r.max_fds, max_held_[s]);
    max_held_[s] = 0;
    held_[s] = 0;
  }
}

void Replay::finish(RunModel& m) {
  for (SiteAgg& a : m.sites) {
    std::vector<ReplayResult>& r = rows(a.id);
    for (ReplayResult& x : r) {
      if (a.events == 0) x.syscalls_after = static_cast<double>(a.calls);
      x.saved_ns = std::max(0.0, static_cast<double>(a.calls) - x.syscalls_after) * a.cost_ns;
      if (x.max_fds == 0) x.max_fds = 1;
    }
  }
}

} // namespace valley::advisor
