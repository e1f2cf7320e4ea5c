// SPDX-License-Identifier: MIT
/// @file small_writes.cpp
/// @brief small-writes: many small writes from one site to a stream fd (file, pipe, TCP, unix
/// stream) → a buffer of the replayed size, flushed before any read of the fd.
/// Victim: tests/report/victims/small_writes.c, the demo's emit_row. Quiet for large writes,
/// datagrams, and writes that the replay (flush before reads, on size, on age) cannot merge.
#include "rules/rule.h"

#include <fmt/format.h>

namespace valley::advisor {

std::optional<Finding> small_writes(const SiteAgg& a, const RunModel&, const AdvisorSettings& s) {
  if (!a.output || a.positional || !stream_kind(a.kind) || a.calls < s.min_calls) return {};
  const uint64_t median = a.size_quantile(0.5);
  if (median >= s.small_write_bytes || median >= s.large_io_bytes) return {};
  if (a.gather_calls * 2 > a.calls) return {}; // header+body before a read: write-gather's case
  std::optional<Finding> found = buffered_finding(a, s);
  if (!found) return {};
  Finding& f = *found;
  const std::optional<ReplayResult>& r = f.replay;
  const std::string b = size_text(r->buffer_size);
  f.summary = fmt::format("{} small {}s (median {} B) from one call site", a.calls,
                          op_name(static_cast<Op>(a.op)), median);
  f.change = fmt::format("collect the writes in a {} buffer; write it out when full, before any "
                         "read or poll of the fd, and at most {} ms after its first byte",
                         b, s.max_age_ms);
  switch (f.language) {
  case Language::c:
    f.idiom = fmt::format("keep a char buf[{}] and one write() per full buffer, or fdopen() the fd "
                          "and setvbuf(f, NULL, _IOFBF, {})", r->buffer_size, r->buffer_size);
    break;
  case Language::c_stdio:
    f.idiom = fmt::format("setvbuf(stream, NULL, _IOFBF, {}) after fopen(), and no fflush() per record",
                          r->buffer_size);
    break;
  case Language::cpp_streams:
    f.idiom = fmt::format("write '\\n' instead of std::endl (it flushes), and give the filebuf a {} "
                          "buffer with rdbuf()->pubsetbuf() before open()", b);
    break;
  case Language::python:
    f.idiom = fmt::format("open(path, 'wb', buffering={}) or io.BufferedWriter(raw, buffer_size={}); "
                          "no flush() per record", r->buffer_size, r->buffer_size);
    break;
  case Language::rust:
    f.idiom = fmt::format("std::io::BufWriter::with_capacity({}, writer)", r->buffer_size);
    break;
  case Language::go:
    f.idiom = fmt::format("bufio.NewWriterSize(w, {}) and Flush() before reading", r->buffer_size);
    break;
  }
  f.coalescible = a.kind != static_cast<uint8_t>(FdKind::tty);
  return found;
}

} // namespace valley::advisor
