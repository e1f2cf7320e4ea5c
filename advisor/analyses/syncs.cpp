// SPDX-License-Identifier: MIT
/// @file syncs.cpp
/// @brief Syncs and the writes they cover, per fd.
#include "analyses/syncs.h"

#include <algorithm>

namespace valley::advisor {

namespace {
std::unique_ptr<Analysis> make(const AdvisorSettings&) { return std::make_unique<Syncs>(); }
constexpr size_t kMaxPaths = 4096; ///< paths followed per process for open/unlink cycles
} // namespace

const AnalysisDef Syncs::def{"syncs", make};

struct Syncs::Fd : FdData {
  uint64_t writes = 0, bytes = 0;
  std::vector<size_t> writers; ///< site ids of the writes since the last sync (each once, sorted)
  uint64_t last_sync = 0;
  bool synced = false;
};

uint64_t SyncFacts::median_writes() const {
  uint64_t total = 0, acc = 0;
  for (const auto& [w, n] : writes_between)
    total += n;
  for (const auto& [w, n] : writes_between)
    if ((acc += n) * 2 >= total) return w;
  return 0;
}

bool Syncs::is_sync(uint8_t op) {
  switch (static_cast<Op>(op)) {
  case Op::fsync:
  case Op::fdatasync:
  case Op::sync_file_range:
  case Op::msync:
    return true;
  default:
    return false;
  }
}

void Syncs::begin_process(const ProcessContext& p) {
  p_ = &p;
  cycles_.clear();
}

void Syncs::call(const Call& c, std::unique_ptr<FdData>& data) {
  if (!c.site) return;
  const EventRecord& e = c.e;
  const auto op = static_cast<Op>(e.op);
  if (op == Op::open || op == Op::unlink) {
    // The new fd's row (open), or the unlinked path's row, whose id the event's offset holds.
    const uint32_t id = op == Op::open ? p_->model.file_at(e.fd, e.ticks)
                                       : static_cast<uint32_t>(std::max<int64_t>(e.offset, 0));
    if (e.result < 0 || id == 0 || id > p_->trace.files.size()) return;
    std::string path(fixed_string(p_->trace.files[id - 1].path));
    auto it = cycles_.find(path);
    if (it == cycles_.end()) {
      if (cycles_.size() >= kMaxPaths) return;
      it = cycles_.emplace(std::move(path), Cycle{}).first;
    }
    ++(op == Op::open ? it->second.opens : it->second.unlinks);
    return;
  }
  if (e.fd < 0) {
    if (is_sync(e.op)) ++syncs_.at(*c.site).syncs; // msync: a mapping, no fd
    return;
  }
  if (!data) data = std::make_unique<Fd>();
  Fd& f = static_cast<Fd&>(*data);
  if (c.site->output && op_moves_data(op) && e.result >= 0) {
    ++f.writes;
    f.bytes += static_cast<uint64_t>(e.result);
    // Sorted: a lookup per write stays cheap when thousands of sites write one fd.
    const auto at = std::lower_bound(f.writers.begin(), f.writers.end(), c.site->id);
    if (at == f.writers.end() || *at != c.site->id) f.writers.insert(at, c.site->id);
    return;
  }
  if (!is_sync(e.op)) return;
  SyncFacts& s = syncs_.at(*c.site);
  ++s.syncs;
  ++s.writes_between[std::min<uint64_t>(f.writes, 1000)];
  s.bytes_between.add(static_cast<double>(f.bytes));
  if (s.paths.size() < 4) {
    const uint32_t id = p_->model.file_at(e.fd, e.ticks);
    if (id >= 1 && id <= p_->trace.files.size())
      s.paths.insert(std::string(fixed_string(p_->trace.files[id - 1].path)));
  }
  const double interval =
      f.synced ? static_cast<double>(e.ticks - std::min(e.ticks, f.last_sync)) * p_->ns_per_tick
               : -1;
  for (size_t w : f.writers) {
    SyncedWrites& sw = writes_[w];
    ++sw.syncs;
    if (interval >= 0) sw.interval_ns.add(interval);
  }
  f.writes = f.bytes = 0;
  f.writers.clear();
  f.last_sync = e.ticks;
  f.synced = true;
}

void Syncs::end_process() {
  for (const auto& [path, c] : cycles_)
    if (std::min(c.opens, c.unlinks) >= 2) journals_[path] += std::min(c.opens, c.unlinks);
  cycles_.clear();
}

std::vector<std::pair<std::string, uint64_t>> Syncs::journals() const {
  std::vector<std::pair<std::string, uint64_t>> v(journals_.begin(), journals_.end());
  std::stable_sort(v.begin(), v.end(), [](auto& x, auto& y) { return x.second > y.second; });
  if (v.size() > 8) v.resize(8);
  return v;
}

} // namespace valley::advisor
