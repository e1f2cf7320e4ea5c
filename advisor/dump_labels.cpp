// SPDX-License-Identifier: MIT
/// @file dump_labels.cpp
/// @brief What both dump renderers share: the process view and the labels of flags, ops,
/// kinds and sites.
#include "dump.h"

#include <fmt/format.h>

namespace valley::advisor {

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
  static constexpr FlagName kNames[] = {{kSiteSplit, "split"},
                                        {kSiteMarker, "marker"},
                                        {kSiteNoStack, "no-stack"},
                                        {kSitePython, "python"}};
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

std::string hex_bytes(const uint8_t* data, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i)
    out += fmt::format("{:02x}", data[i]);
  return out;
}

} // namespace valley::advisor
