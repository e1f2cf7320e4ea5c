// SPDX-License-Identifier: MIT
/// @file trace_model.cpp
/// @brief One trace symbolized: sites, callers, stacks, and the FileRows of each fd in time.
#include "trace_model.h"

#include <algorithm>

namespace valley::advisor {

std::vector<Frame> python_stack(const Trace& t, const SiteEntry& e) {
  std::vector<Frame> out;
  if (!(e.data.flags & kSitePython) || e.data.caller == 0) return out;
  const size_t first = e.data.caller - 1;
  for (size_t i = first; i < t.pyframes.size(); ++i) {
    const PyFrameRow& r = t.pyframes[i];
    if (r.ready != 1 || r.site != e.id || r.index != i - first || r.count == 0 ||
        r.index >= r.count)
      break;
    Frame f;
    f.python = true;
    f.function = r.function;
    f.file = r.file;
    f.line = r.line > 0 ? r.line : 0;
    f.first_line = r.first_line > 0 ? r.first_line : 0;
    out.push_back(std::move(f));
    if (r.index + 1u == r.count) break;
  }
  return out;
}

size_t python_program_frame(const std::vector<Frame>& py) {
  size_t i = 0;
  while (i + 1 < py.size() && python_library_file(py[i].file))
    ++i;
  return i < py.size() && python_library_file(py[i].file) ? 0 : i;
}

bool python_library_file(const std::string& file) {
  if (file.starts_with("<frozen ")) return true;
  const size_t lib = file.find("/lib/python3");
  return lib != std::string::npos && file.find("-packages/", lib) == std::string::npos;
}

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
    s.python = python_stack(t, e);
    s.program = python_program_frame(s.python);
    m.sites.emplace(e.id, std::move(s));
  }
  for (uint32_t id = 1; id <= t.files.size(); ++id)
    m.files_by_fd[t.files[id - 1].fd].emplace_back(t.files[id - 1].first_ticks, id);
  for (auto& [fd, rows] : m.files_by_fd)
    std::stable_sort(rows.begin(), rows.end());
  for (uint32_t id = 1; id <= t.stacks.size(); ++id) {
    auto it = m.sites.find(t.stacks[id - 1].site);
    if (it == m.sites.end()) {
      m.orphan_stacks.push_back(id);
      continue;
    }
    it->second.stacks.push_back(id);
    // Python frames first, then the native ones under them.
    const std::vector<Frame>& py = it->second.python;
    m.stacks[id - 1].insert(m.stacks[id - 1].begin(), py.begin(), py.end());
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
