// SPDX-License-Identifier: MIT
/// @file small_reads.cpp
/// @brief small-reads: many small reads/recvs from one site that get all they ask for → read
/// larger chunks through a buffered reader. Victims: tests/report/victims/byte_reads.c, the
/// demo's read_config. Quiet for large reads, datagrams, and short reads (a socket that has no
/// more to give: a bigger buffer would not save a call).
#include "rules/rule.h"

#include <fmt/format.h>

namespace valley::advisor {

std::optional<Finding> small_reads(const SiteAgg& a, const RunModel&, const AdvisorSettings& s) {
  if (a.output || a.positional || !stream_kind(a.kind) || a.calls < s.min_calls) return {};
  const uint64_t median = a.size_quantile(0.5);
  if (median >= s.small_read_bytes || median >= s.large_io_bytes) return {};
  if (a.requested == 0 || static_cast<double>(a.bytes) < 0.8 * static_cast<double>(a.requested))
    return {}; // mostly short reads: the data is not there yet
  std::optional<Finding> found = buffered_finding(a, s);
  if (!found) return {};
  Finding& f = *found;
  const std::optional<ReplayResult>& r = f.replay;
  const std::string b = size_text(r->buffer_size);
  f.summary = fmt::format("{} small {}s (median {} B) from one call site", a.calls,
                          op_name(static_cast<Op>(a.op)), median);
  f.change = fmt::format("read {} at a time into a buffer and take the small pieces from it", b);
  switch (f.language) {
  case Language::c:
    f.idiom = fmt::format("read(fd, buf, {}) and parse from buf, or fdopen() + setvbuf(f, NULL, "
                          "_IOFBF, {}) + getc()", r->buffer_size, r->buffer_size);
    break;
  case Language::c_stdio:
    f.idiom = fmt::format("setvbuf(stream, NULL, _IOFBF, {}) after fopen()", r->buffer_size);
    break;
  case Language::cpp_streams:
    f.idiom = fmt::format("read blocks with istream::read() into a {} buffer instead of get()", b);
    break;
  case Language::python: f.idiom = fmt::format("open(path, 'rb', buffering={})", r->buffer_size); break;
  case Language::rust: f.idiom = fmt::format("std::io::BufReader::with_capacity({}, reader)", r->buffer_size); break;
  case Language::go: f.idiom = fmt::format("bufio.NewReaderSize(r, {})", r->buffer_size); break;
  }
  return found;
}

} // namespace valley::advisor
