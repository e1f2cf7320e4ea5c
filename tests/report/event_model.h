// SPDX-License-Identifier: MIT
/// @file event_model.h
/// @brief A RunModel made from calls written in a test, as build_run_model makes one from a
/// trace: the counters the shim would have kept, the event pass with every analysis the rules
/// ask for, the cost model, the analyses' results.
#pragma once

#include "event_pass.h"
#include "rules/rule.h"

#include <string>
#include <utility>
#include <vector>

namespace valley::testing {

class EventModel {
public:
  advisor::AdvisorSettings s;
  double ns_per_tick = 1.0;

  /// A site doing `op` on `kind`; returns its index for call().
  int site(Op op, FdKind kind, const std::string& key) {
    advisor::SiteAgg a;
    a.id = sites_.size();
    a.key = key;
    a.op = static_cast<uint8_t>(op);
    a.kind = static_cast<uint8_t>(kind);
    a.output = op_is_output(op);
    a.positional = op == Op::pread || op == Op::pwrite;
    a.mmsg = op == Op::sendmmsg || op == Op::recvmmsg;
    a.frame.module = "/x/victim";
    a.frame.offset = 0x1000 + 0x10 * a.id;
    a.frame.function = key;
    a.shim_sites.insert("victim+0x" + to_hex(a.frame.offset));
    sites_.push_back(std::move(a));
    return static_cast<int>(sites_.size() - 1);
  }
  advisor::SiteAgg& at(int site) { return sites_[static_cast<size_t>(site)]; }

  /// A FileRow for `fd` from `ticks` on (its id is the row's index + 1); `flags` go into
  /// reserved[0] (the TCP_NODELAY/TCP_CORK bits).
  uint32_t file(int fd, FdKind kind, const std::string& path, uint64_t ticks = 0,
                uint8_t flags = 0) {
    FileRow f{};
    f.fd = fd;
    f.kind = static_cast<uint8_t>(kind);
    f.first_ticks = ticks;
    f.reserved[0] = flags;
    path.copy(f.path, sizeof f.path - 1);
    files_.push_back(f);
    return static_cast<uint32_t>(files_.size());
  }

  /// One call at `ticks`, `duration` ticks long, as the shim would count and log it.
  EventRecord& call(int site, int fd, uint32_t size, int32_t result, uint64_t ticks,
                    uint32_t duration = 100, int64_t offset = -1) {
    advisor::SiteAgg& a = sites_[static_cast<size_t>(site)];
    EventRecord e{};
    e.op = a.op;
    e.fd_kind = a.kind;
    e.fd = fd;
    e.size = size;
    e.result = result;
    e.ticks = ticks;
    e.duration = duration;
    e.offset = offset;
    ++a.calls;
    a.requested += size;
    if (result > 0) a.bytes += static_cast<uint64_t>(result);
    if (result < 0) ++a.errors;
    a.time_ns += duration * ns_per_tick;
    ++a.size_hist[bucket_of(size)];
    a.pids.insert(1);
    events_.push_back({e, site});
    return events_.back().first;
  }

  /// The model, with the analyses every rule asks for run over the calls (one process).
  advisor::RunModel model() {
    advisor::RunModel m;
    m.sites = sites_;
    std::vector<advisor::Analysis*> analyses;
    for (const advisor::AnalysisDef* d : advisor::rule_analyses()) {
      m.analyses.push_back(d->make(s));
      analyses.push_back(m.analyses.back().get());
    }
    advisor::Trace t;
    t.files = files_;
    advisor::TraceModel tm;
    for (uint32_t id = 1; id <= files_.size(); ++id)
      tm.files_by_fd[files_[id - 1].fd].emplace_back(files_[id - 1].first_ticks, id);
    const advisor::ProcessContext ctx{t, tm, ns_per_tick};
    for (advisor::Analysis* an : analyses)
      an->begin_process(ctx);
    advisor::EventPass pass(m.sites, ns_per_tick, analyses);
    for (auto& [e, site] : events_)
      pass.event(e, site);
    pass.finish();
    uint64_t last = 0;
    for (auto& [e, site] : events_)
      last = std::max(last, e.ticks);
    m.wall_ns = static_cast<double>(last) * ns_per_tick;
    m.index_sites();
    advisor::compute_costs(m);
    for (advisor::Analysis* an : analyses)
      an->finish(m);
    return m;
  }

private:
  static std::string to_hex(uint64_t v) {
    static const char* d = "0123456789abcdef";
    std::string s;
    do
      s.insert(s.begin(), d[v % 16]), v /= 16;
    while (v);
    return s;
  }
  std::vector<advisor::SiteAgg> sites_;
  std::vector<std::pair<EventRecord, int>> events_;
  std::vector<FileRow> files_;
};

} // namespace valley::testing
