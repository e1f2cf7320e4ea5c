// SPDX-License-Identifier: MIT
/// @file sequential_pread.cpp
/// @brief sequential-pread: small preads at contiguous increasing offsets → larger reads plus
/// posix_fadvise(POSIX_FADV_SEQUENTIAL)/readahead. Victim: tests/report/victims/seq_pread.c.
/// Quiet for random offsets and for large preads.
#include "rules/rule.h"

#include <fmt/format.h>

namespace valley::advisor {

/// Positional reads that start where the site's previous one on the fd ended.
class Sequential : public Analysis {
public:
  struct Fd : FdData {
    int64_t next_offset = -1;
    int64_t last_site = -1;
  };
  void call(const Call& c, std::unique_ptr<FdData>& data) override {
    if (!c.site || !c.site->positional) return;
    if (!data) data = std::make_unique<Fd>();
    Fd& f = static_cast<Fd&>(*data);
    const auto site = static_cast<int64_t>(c.site->id);
    if (c.e.offset == f.next_offset && f.last_site == site) ++sequential_[c.site->id];
    f.last_site = site;
    if (__builtin_add_overflow(c.e.offset, std::max<int64_t>(c.e.result, 0), &f.next_offset))
      f.next_offset = -1;
  }
  uint64_t of(const SiteAgg& a) const {
    const uint64_t* n = sequential_.find(a);
    return n ? *n : 0;
  }
  uint64_t& at(const SiteAgg& a) { return sequential_.at(a); } ///< for tests of the rules
  static const AnalysisDef def;

private:
  PerSite<uint64_t> sequential_;
};

const AnalysisDef Sequential::def{
    "sequential", [](const AdvisorSettings&) -> std::unique_ptr<Analysis> {
      return std::make_unique<Sequential>();
    }};

namespace {

std::optional<Finding> evaluate(const SiteAgg& a, const RunModel& m, const AdvisorSettings& s) {
  if (a.output || !a.positional || a.calls < s.min_calls || a.events == 0) return {};
  const uint64_t median = a.size_quantile(0.5);
  if (median >= s.small_read_bytes || median >= s.large_io_bytes) return {};
  const Sequential* seq = find_analysis<Sequential>(m);
  const uint64_t sequential = seq ? seq->of(a) : 0;
  if (static_cast<double>(sequential) < s.sequential_fraction * static_cast<double>(a.events))
    return {};
  std::optional<Finding> found = buffered_finding(a, m, s);
  if (!found) return {};
  Finding& f = *found;
  f.summary = fmt::format("{} preads of median {} B, {:.0f}% starting where the previous ended",
                          a.calls, median,
                          100.0 * static_cast<double>(sequential) / static_cast<double>(a.events));
  f.change = fmt::format("pread {} at a time and serve the small reads from it; tell the kernel "
                         "with posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) (or readahead())",
                         size_text(f.replay->buffer_size));
  f.idiom = f.language == Language::python
                ? "f = open(path, 'rb', buffering=N) and read sequentially; os.posix_fadvise(fd, 0, "
                  "0, os.POSIX_FADV_SEQUENTIAL)"
                : "posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL); pread(fd, buf, N, off)";
  return found;
}

} // namespace

extern const RuleDef rule_sequential_pread{"sequential-pread", 50,
                                           {&Replay::def, &Sequential::def}, evaluate};

} // namespace valley::advisor
