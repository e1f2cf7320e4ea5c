// SPDX-License-Identifier: MIT
/// @file sequential_pread.cpp
/// @brief sequential-pread: small preads at contiguous increasing offsets → larger reads plus
/// posix_fadvise(POSIX_FADV_SEQUENTIAL)/readahead. Victim: tests/report/victims/seq_pread.c.
/// Quiet for random offsets and for large preads.
#include "rules/rule.h"

#include <fmt/format.h>

namespace valley::advisor {

std::optional<Finding> sequential_pread(const SiteAgg& a, const RunModel&, const AdvisorSettings& s) {
  if (a.output || !a.positional || a.calls < s.min_calls || a.events == 0) return {};
  const uint64_t median = a.size_quantile(0.5);
  if (median >= s.small_read_bytes || median >= s.large_io_bytes) return {};
  if (static_cast<double>(a.sequential) < s.sequential_fraction * static_cast<double>(a.events))
    return {};
  std::optional<Finding> found = buffered_finding(a, s);
  if (!found) return {};
  Finding& f = *found;
  const std::optional<ReplayResult>& r = f.replay;
  f.summary = fmt::format("{} preads of median {} B, {:.0f}% starting where the previous ended",
                          a.calls, median, 100.0 * static_cast<double>(a.sequential) / static_cast<double>(a.events));
  f.change = fmt::format("pread {} at a time and serve the small reads from it; tell the kernel "
                         "with posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) (or readahead())",
                         size_text(r->buffer_size));
  f.idiom = f.language == Language::python ? "f = open(path, 'rb', buffering=N) and read sequentially; os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)"
                                           : "posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL); pread(fd, buf, N, off)";
  return found;
}

} // namespace valley::advisor
