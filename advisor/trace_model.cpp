// SPDX-License-Identifier: MIT
/// @file trace_model.cpp
/// @brief One trace symbolized: sites, callers, stacks, and the FileRows of each fd in time.
#include "trace_model.h"

#include <algorithm>

namespace valley::advisor {

TraceModel build_trace_model(const Trace& t, Symbolizer& symbolizer) {
  TraceModel m;
  std::span<const ModuleRow> all(t.modules);
  m.stacks.reserve(t.stacks.size());
  for (const StackRow& s : t.stacks) {
    std::span<const ModuleRow> seen = all.first(s.modules_seen);
    std::vector<Frame> frames;
    frames.reserve(s.nframes);
    for (uint32_t i = 0; i < s.nframes; ++i)
      frames.push_back(symbolizer.resolve(s.frames[i], seen));
    m.stacks.push_back(std::move(frames));
  }
  for (const SiteEntry& e : t.sites) {
    // The modules loaded when the site was first seen, if its stack says so.
    std::span<const ModuleRow> seen = all;
    if (e.data.first_stack != 0) seen = all.first(t.stacks[e.data.first_stack - 1].modules_seen);
    SiteModel s;
    s.entry = &e;
    s.frame = symbolizer.resolve(e.data.return_address, seen);
    if ((e.data.flags & kSiteSplit) && e.data.caller != 0)
      s.caller = symbolizer.resolve(e.data.caller, seen);
    m.sites.emplace(e.id, std::move(s));
  }
  for (uint32_t id = 1; id <= t.files.size(); ++id)
    m.files_by_fd[t.files[id - 1].fd].emplace_back(t.files[id - 1].first_ticks, id);
  for (auto& [fd, rows] : m.files_by_fd)
    std::stable_sort(rows.begin(), rows.end());
  for (uint32_t id = 1; id <= t.stacks.size(); ++id) {
    auto it = m.sites.find(t.stacks[id - 1].site);
    if (it == m.sites.end())
      m.orphan_stacks.push_back(id);
    else
      it->second.stacks.push_back(id);
  }
  return m;
}

uint32_t TraceModel::file_at(int32_t fd, uint64_t ticks) const {
  auto it = files_by_fd.find(fd);
  if (it == files_by_fd.end()) return 0;
  const auto& rows = it->second;
  // Later rows win ties: a row re-classified at the same tick replaces the earlier one.
  auto after = std::upper_bound(rows.begin(), rows.end(), std::pair{ticks, UINT32_MAX});
  return after == rows.begin() ? 0 : std::prev(after)->second;
}

} // namespace valley::advisor
