// SPDX-License-Identifier: MIT
/// @file export_perfetto.cpp
/// @brief `valley export --format perfetto`: the Trace Event Format (JSON) that ui.perfetto.dev
/// and chrome://tracing open. One track per thread, one complete slice per call, coalescer
/// flushes as slices of their own, bytes/s per fd as counter tracks. Streamed: per trace, memory
/// holds its sites, files, threads and counter bins, never its events. Layout: export-perfetto.md.
#include "export_context.h"
#include "json_text.h"
#include "text.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>

namespace valley::advisor {
namespace {

/// Slices of one thread must nest (the format's rule; Perfetto drops or misplaces the rest).
/// The shim records a call when it returns, so a signal handler's call comes before the call it
/// interrupted, and a damaged trace can hold anything: a slice that does not simply follow the
/// ones before is checked against the last kRecent admitted on its thread. One that would
/// overlap another only in part, or that cannot be checked because it starts before a
/// forgotten one ended, becomes an instant event.
class ThreadTrack {
public:
  bool named = false;

  bool admit(int64_t s, int64_t e) {
    if (s < forgotten_end_) return false;
    if (s < horizon_) { // not simply after every remembered slice: check each
      for (size_t i = 0; i < count_; ++i) {
        const Span& r = recent_[i];
        if (e <= r.s || s >= r.e) continue; // apart (touching is apart)
        if (s >= r.s && e <= r.e) continue; // inside r
        if (s < r.s && e >= r.e) continue;  // around r, and sorts before it
        return false; // overlaps in part, or starts with r and is longer: after r in the
                      // file, an importer sorting by start alone would open it inside r
      }
    }
    // Remember it in place of the oldest.
    Span& slot = recent_[next_];
    if (count_ == kRecent)
      forgotten_end_ = std::max(forgotten_end_, slot.e);
    else
      ++count_;
    slot = {s, e};
    next_ = (next_ + 1) % kRecent;
    horizon_ = std::max(horizon_, e);
    return true;
  }

private:
  struct Span {
    int64_t s, e;
  };
  static constexpr size_t kRecent = 32;
  std::array<Span, kRecent> recent_{};
  size_t count_ = 0, next_ = 0;
  int64_t horizon_ = INT64_MIN;       ///< the latest end remembered or forgotten
  int64_t forgotten_end_ = INT64_MIN; ///< the latest end of the slices no longer remembered
};

/// Bytes per fd in time bins from the trace's start. Bins double in width (merging pairs) when
/// an event lands past the last one, so an fd keeps at most kBins bins whatever the times say;
/// fds past the first kMaxFds distinct numbers share one track (R-09: memory must not grow with
/// the number of distinct fds).
class FdRates {
public:
  static constexpr int32_t kOtherFds = INT32_MIN;

  FdRates(int64_t start_ns, int64_t expected_ns)
      : start_(start_ns), width_(std::max<int64_t>(1000, expected_ns / (kBins / 2) + 1)) {}

  /// `bytes` moved by calls spread evenly over [s, e] (one call: s == e).
  void add(int32_t fd, bool output, int64_t s, int64_t e, double bytes) {
    auto it = fds_.find(fd);
    if (it == fds_.end()) it = fds_.try_emplace(fds_.size() < kMaxFds ? fd : kOtherFds).first;
    Fd& f = it->second;
    (output ? f.out_seen : f.in_seen) = true;
    // The later time first: it may widen the bins, which would move an earlier bin number.
    const uint32_t last = bin(std::max(s, e)), first = bin(s);
    if (first == last) {
      add_to(f.bins[first], output, bytes);
    } else {
      // A run of absorbed calls: an even rate over its bins, kept as a step up at its first bin
      // and down after its last (summed when the bins are written), so a run costs the same
      // whatever its length.
      const double per = bytes / static_cast<double>(last - first + 1);
      add_to(f.steps[first], output, per);
      add_to(f.steps[last + 1], output, -per);
    }
  }

  /// Counter points: per fd one track with "write B/s" and/or "read B/s" (of the program's
  /// calls), a point where the rate changes and a 0 after the last bin that moved bytes.
  template <typename Emit> void emit(const Emit& point) {
    const double per_s = 1e9 / static_cast<double>(width_);
    for (auto& [fd, f] : fds_) {
      settle(f);
      uint32_t next = UINT32_MAX; // the bin after the previous point's, if that one was not 0
      for (const auto& [b, c] : f.bins) {
        if (next != UINT32_MAX && b != next) point(fd, f, time(next), 0.0, 0.0);
        point(fd, f, time(b), c.out * per_s, c.in * per_s);
        next = b + 1;
      }
      if (next != UINT32_MAX) point(fd, f, time(next), 0.0, 0.0);
    }
  }

  struct Cell {
    double out = 0, in = 0;
  };
  struct Fd {
    bool out_seen = false, in_seen = false;
    std::map<uint32_t, Cell> bins;  ///< only the bins that moved bytes
    std::map<uint32_t, Cell> steps; ///< runs' rate changes, not yet summed into `bins`
  };

private:
  static constexpr uint32_t kBins = 1024;
  static constexpr size_t kMaxFds = 256;

  static void add_to(Cell& c, bool output, double bytes) { (output ? c.out : c.in) += bytes; }

  /// Sums the runs' steps into the bins they cover.
  static void settle(Fd& f) {
    if (f.steps.empty()) return;
    Cell rate;
    auto step = f.steps.begin();
    for (uint32_t b = step->first; b <= f.steps.rbegin()->first; ++b) {
      if (step != f.steps.end() && step->first == b) {
        rate.out += step->second.out, rate.in += step->second.in;
        ++step;
      }
      // Steps up and down of one run may not cancel exactly in floating point.
      if (std::abs(rate.out) > 1e-9 || std::abs(rate.in) > 1e-9) {
        Cell& c = f.bins[b];
        c.out += rate.out, c.in += rate.in;
      }
    }
    f.steps.clear();
  }

  int64_t time(uint32_t b) const { return start_ + static_cast<int64_t>(b) * width_; }
  uint32_t bin(int64_t t) {
    const int64_t rel = std::max<int64_t>(0, t - start_);
    while (rel / width_ >= kBins)
      widen();
    return static_cast<uint32_t>(rel / width_);
  }
  void widen() {
    for (auto& [fd, f] : fds_) {
      settle(f);
      std::map<uint32_t, Cell> merged;
      for (const auto& [b, c] : f.bins) {
        Cell& m = merged[b / 2];
        m.out += c.out, m.in += c.in;
      }
      f.bins = std::move(merged);
    }
    width_ *= 2;
  }

  int64_t start_, width_;
  std::map<int32_t, Fd> fds_; // by fd number: fd 3 reopened is still the track "fd 3"
};

enum Variant { kCall, kAbsorbed, kFlush, kVariants };

class PerfettoWriter {
public:
  PerfettoWriter(const ExportOptions& o, std::FILE* out) : o_(o), out_(out) {}

  ExportSummary write() {
    auto [run, tl] = open_run(o_.dir);
    add_problems(sum_.problems, run.problems);
    const std::map<uint32_t, std::string> names = process_names(run);
    out_.append("{\"traceEvents\":[\n");
    Symbolizer sym;
    for (const Trace& t : run.traces) {
      if (!trace_selected(o_, t, run)) continue;
      ++sum_.processes;
      add_problems(sum_.problems, t.problems);
      if (processes_named_.insert(t.pid).second) {
        auto it = names.find(t.pid);
        metadata("process_name", t.pid, std::nullopt,
                 it != names.end() ? it->second : fmt::format("pid {}", t.pid));
      }
      if (!t.header_valid) {
        sum_.problems.push_back(fmt::format(
            "{}: the segment header is unreadable: no clock to place its events; none exported",
            t.name));
        continue;
      }
      trace(TraceContext(t, run, tl, sym));
    }
    out_.append("\n]}\n");
    out_.flush();
    return sum_;
  }

private:
  /// Per pid, the programs its images ran ("sh → make" after an exec).
  static std::map<uint32_t, std::string> process_names(const RunDir& run) {
    std::map<uint32_t, std::string> names;
    for (const Trace& t : run.traces) {
      if (!t.header_valid) continue;
      const std::string p = program_name(split_cmdline(t.header.cmdline, t.header.cmdline_len),
                                         std::string(fixed_string(t.header.exe)));
      std::string& n = names[t.pid];
      if (n.empty())
        n = p;
      else if (!n.ends_with(p))
        n += " → " + p;
    }
    return names;
  }

  void trace(const TraceContext& ctx) {
    const Trace& t = ctx.trace;
    ctx_ = &ctx;
    site_args_.clear();
    path_args_.assign(t.files.size() + 1, std::nullopt);
    const int64_t start = ctx.at(t.header.start_ticks).value_or(0);
    FdRates rates(start, ctx.duration_ns(t.header.end_ticks >= t.header.start_ticks
                                             ? t.header.end_ticks - t.header.start_ticks
                                             : 0));
    rates_ = &rates;
    std::vector<Problem> problems;
    read_events(
        t, [&](const EventRecord& e, EventSource) { event(e); }, problems);
    add_problems(sum_.problems, problems);
    std::optional<int32_t> named_fd;
    std::string counter_name;
    rates.emit([&](int32_t fd, const FdRates::Fd& f, int64_t ts, double o, double i) {
      if (named_fd != fd) counter_name = fd_counter_name(fd), named_fd = fd;
      record();
      out_.put("{{\"ph\":\"C\",\"pid\":{},\"name\":{},\"ts\":", t.pid, counter_name);
      put_us(out_, ts);
      out_.append(",\"args\":{");
      if (f.out_seen) out_.put("\"write B/s\":{:.0f}", o);
      if (f.in_seen) out_.put("{}\"read B/s\":{:.0f}", f.out_seen ? "," : "", i);
      out_.append("}}");
      out_.maybe_flush();
    });
    out_.flush();
    ctx_ = nullptr;
    rates_ = nullptr;
  }

  void event(const EventRecord& e) {
    const std::optional<int64_t> s = ctx_->at(e.ticks);
    // Before the run began (a process starts at or after it) or beyond 2^53 ns: damage. Ops and
    // kinds out of range the reader already skips.
    if (!s || *s < 0 || e.op == 0 || e.op > kOpMax || e.fd_kind > kFdKindMax) {
      ++sum_.out_of_range;
      return;
    }
    if ((o_.from_ns && *s < *o_.from_ns) || (o_.to_ns && *s > *o_.to_ns)) return;
    const bool run = e.flags & kEventRun;
    int64_t end = *s;
    if (run) {
      end = std::max(*s, ctx_->at(event_last_ticks(e)).value_or(*s));
    } else {
      end = *s + ctx_->duration_ns(e.duration);
    }
    const uint32_t pid = ctx_->trace.pid;
    ThreadTrack& track = threads_[uint64_t{pid} << 32 | e.tid];
    if (!track.named) {
      track.named = true;
      metadata("thread_name", pid, e.tid,
               e.tid == pid ? ctx_->program : fmt::format("{} thread", ctx_->program));
    }
    const auto op = static_cast<Op>(e.op);
    const bool output = op_is_output(op);
    if (!(e.flags & kEventFlush) && e.result > 0) {
      // *mmsg calls return messages, not bytes: count what they asked to move.
      const bool mmsg = op_is_mmsg(op);
      const double bytes = static_cast<double>(mmsg ? e.size : static_cast<uint32_t>(e.result));
      rates_->add(e.fd, output, *s, end, bytes * static_cast<double>(event_calls(e)));
    }

    const bool slice = track.admit(*s, end);
    if (!slice) ++sum_.overlapping;
    record();
    out_.append(slice ? "{\"ph\":\"X\",\"pid\":" : "{\"ph\":\"i\",\"pid\":");
    out_.num(pid);
    out_.append(",\"tid\":");
    out_.num(e.tid);
    out_.append(",\"ts\":");
    put_us(out_, *s);
    if (slice) {
      out_.append(",\"dur\":");
      put_us(out_, end - *s);
    } else {
      out_.append(",\"s\":\"t\"");
    }
    out_.append(",\"name\":");
    out_.append(name(e, slice));
    out_.append(",\"args\":{\"fd\":");
    out_.num(e.fd);
    if (uint32_t id = ctx_->file_at(e.fd, e.ticks)) out_.append(path_arg(id));
    out_.append(",\"size\":");
    out_.num(e.size);
    out_.append(",\"result\":");
    out_.num(e.result);
    if (e.result < 0) out_.put(",\"errno\":\"{}\"", errno_name(-int64_t{e.result}));
    if (run) {
      out_.append(",\"calls\":");
      out_.num(event_calls(e));
    } else if (e.offset != -1) {
      out_.append(",\"offset\":");
      out_.num(e.offset);
    }
    if (!slice) {
      out_.append(",\"dur_us\":");
      put_us(out_, end - *s);
    }
    if (!(e.flags & kEventFlush)) out_.append(site_arg(e.site));
    if (e.flags & kEventNested) out_.append(",\"nested\":true");
    if (e.flags & kEventLate) out_.append(",\"late\":true");
    out_.append("}}");
    out_.maybe_flush();
  }

  /// "write file", "write file (absorbed)", "valley flush: write file"; quoted, made once.
  const std::string& name(const EventRecord& e, bool slice) {
    const Variant v = e.flags & kEventFlush       ? kFlush
                      : e.flags & kEventCoalesced ? kAbsorbed
                                                  : kCall;
    std::string& n = names_[e.op][e.fd_kind][v][slice ? 0 : 1];
    if (n.empty()) {
      std::string base = op_name(static_cast<Op>(e.op));
      base += " ";
      base += fd_kind_name(static_cast<FdKind>(e.fd_kind));
      if (v == kAbsorbed) base += " (absorbed)";
      if (v == kFlush) base = "valley flush: " + base;
      if (!slice) base += " (overlaps another call)";
      n = json_quote(base);
    }
    return n;
  }

  const std::string& path_arg(uint32_t id) {
    std::optional<std::string>& a = path_args_[id];
    if (!a) a = ",\"path\":" + json_quote(fixed_string(ctx_->file(id)->path));
    return *a;
  }

  /// The call site's function and file:line, made once per site.
  const std::string& site_arg(uint32_t id) {
    auto [it, fresh] = site_args_.try_emplace(id);
    if (!fresh) return it->second;
    std::string& a = it->second;
    const SiteInfo* s = ctx_->site(id);
    if (!s) return a = ",\"site\":\"unknown\"";
    const Frame& loc = s->location();
    if (!loc.function.empty()) a += ",\"function\":" + json_quote(loc.function);
    if (!loc.file.empty())
      a += ",\"source\":" + json_quote(fmt::format("{}:{}", base_name(loc.file), loc.line));
    if (loc.function.empty() && loc.file.empty()) a += ",\"site\":" + json_quote(s->text);
    if (s->caller) a += ",\"via\":" + json_quote(frame_text(s->frame, SourcePaths::base));
    return a;
  }

  std::string fd_counter_name(int32_t fd) {
    if (fd == FdRates::kOtherFds) return "\"other fds\"";
    const std::vector<std::string> paths = fd_paths(fd);
    std::string n = fmt::format("fd {}", fd);
    if (paths.size() == 1) n += " " + paths.front();
    return json_quote(n);
  }

  /// The distinct paths an fd number had in this trace.
  std::vector<std::string> fd_paths(int32_t fd) const {
    std::set<std::string> seen;
    for (const FileRow& f : ctx_->trace.files)
      if (f.fd == fd) seen.emplace(fixed_string(f.path));
    return {seen.begin(), seen.end()};
  }

  void metadata(const char* what, uint32_t pid, std::optional<uint32_t> tid,
                const std::string& value) {
    record();
    out_.put("{{\"ph\":\"M\",\"name\":\"{}\",\"pid\":{}", what, pid);
    if (tid) out_.put(",\"tid\":{}", *tid);
    out_.put(",\"args\":{{\"name\":{}}}}}", json_quote(value));
  }

  /// Starts an element of traceEvents: one per line, commas between.
  void record() {
    if (sum_.records++ != 0) out_.append(",\n");
  }

  static std::string base_name(const std::string& path) {
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
  }

  const ExportOptions& o_;
  OutBuffer out_;
  ExportSummary sum_;
  const TraceContext* ctx_ = nullptr;
  FdRates* rates_ = nullptr;
  std::set<uint32_t> processes_named_;
  std::unordered_map<uint64_t, ThreadTrack> threads_;
  std::unordered_map<uint32_t, std::string> site_args_;
  std::vector<std::optional<std::string>> path_args_;
  std::string names_[kOpMax + 1][kFdKindMax + 1][kVariants][2];
};

} // namespace

ExportSummary write_perfetto(const ExportOptions& o, std::FILE* out) {
  auto w = std::make_unique<PerfettoWriter>(o, out);
  return w->write();
}

} // namespace valley::advisor
