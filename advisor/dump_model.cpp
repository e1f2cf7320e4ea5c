// SPDX-License-Identifier: MIT
/// @file dump_model.cpp
/// @brief Symbolized view of a trace for `valley dump`, and labels both renderers share.
#include "dump_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace valley::advisor {

TraceModel build_model(const Trace& t, Symbolizer& symbolizer) {
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

double ProcessView::since_start_us(uint64_t ticks) const {
  uint64_t start = trace.header_valid ? trace.header.start_ticks : 0;
  // Signed: a bad record may predate the start.
  auto delta = static_cast<int64_t>(ticks - start);
  return ticks_to_ns(delta) / 1000.0;
}

const FileRow* ProcessView::file(uint32_t id) const {
  if (id == 0 || id > trace.files.size()) return nullptr;
  return &trace.files[id - 1];
}

namespace {

struct FlagName {
  uint32_t bit;
  const char* name;
};

/// Names of the set bits; bits this valley has no name for are shown in hex, not dropped.
template <size_t N>
std::vector<std::string> flag_names(uint32_t flags, const FlagName (&names)[N]) {
  std::vector<std::string> out;
  for (const FlagName& f : names) {
    if (flags & f.bit) out.emplace_back(f.name);
    flags &= ~f.bit;
  }
  if (flags) out.push_back(fmt::format("{:#x}", flags));
  return out;
}

} // namespace

std::vector<std::string> site_flag_names(uint32_t flags) {
  static constexpr FlagName kNames[] = {
      {kSiteSplit, "split"}, {kSiteMarker, "marker"}, {kSiteNoStack, "no-stack"}};
  std::vector<std::string> out = flag_names(flags & ~uint32_t{kSiteReady}, kNames);
  if (!(flags & kSiteReady)) out.insert(out.begin(), "incomplete");
  return out;
}

std::vector<std::string> event_flag_names(uint8_t flags, EventSource src) {
  static constexpr FlagName kNames[] = {{kEventNested, "nested"},       {kEventLate, "late"},
                                        {kEventCoalesced, "coalesced"}, {kEventFlush, "flush"},
                                        {kEventRun, "run"}};
  std::vector<std::string> out = flag_names(flags, kNames);
  if (src == EventSource::ring) out.emplace_back("ring");
  return out;
}

std::vector<std::string> state_flag_names(uint32_t state) {
  // Finished and exec are shown as the end state.
  static constexpr FlagName kNames[] = {{kStateRingReleased, "ring-released"},
                                        {kStateCountersFull, "counters-full"}};
  return flag_names(state & ~uint32_t{kStateFinished | kStateExec}, kNames);
}

std::string op_label(uint8_t op) {
  const char* name = op >= 1 && op <= kOpMax ? op_name(static_cast<Op>(op)) : nullptr;
  return name ? name : fmt::format("op{}", op);
}

std::string kind_label(uint8_t kind) {
  const char* name = kind <= kFdKindMax ? fd_kind_name(static_cast<FdKind>(kind)) : nullptr;
  return name ? name : fmt::format("kind{}", kind);
}

std::string site_label(uint32_t site) {
  return site == kSiteUnknown ? std::string("?") : std::to_string(site);
}

std::string format_ns(double ns) {
  struct Unit {
    double scale;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{1e9, "s"}, {1e6, "ms"}, {1e3, "us"}};
  for (const Unit& u : kUnits) {
    if (std::fabs(ns) >= u.scale) {
      double v = ns / u.scale;
      return fmt::format("{:.{}f}{}", v,
                         std::fabs(v) >= 100  ? 0
                         : std::fabs(v) >= 10 ? 1
                                              : 2,
                         u.name);
    }
  }
  return fmt::format("{:.0f}ns", ns);
}

std::string hex_bytes(const uint8_t* data, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i)
    out += fmt::format("{:02x}", data[i]);
  return out;
}

} // namespace valley::advisor
