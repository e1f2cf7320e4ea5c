// SPDX-License-Identifier: MIT
/// @file small_reads.cpp
/// @brief small-reads: many small reads/recvs from one site that get all they ask for → read
/// larger chunks through a buffered reader. Victims: tests/report/victims/byte_reads.c, the
/// demo's read_config. Quiet for large reads, datagrams, and short reads (a socket that has no
/// more to give: a bigger buffer would not save a call). On a pipe, FIFO, socket or tty that is
/// inherited or that another process of the run reads too (a shell's `read` builtin reading
/// its input byte by byte on purpose), reading ahead would take bytes that belong to the next
/// reader: then it is only a note, and no saving is promised.
#include "rules/rule.h"

#include <fmt/format.h>

namespace valley::advisor {

namespace {

std::string idiom(Language l, uint64_t n, const std::string& b) {
  switch (l) {
  case Language::c:
    return fmt::format("read(fd, buf, {}) and parse from buf, or fdopen() + setvbuf(f, NULL, "
                       "_IOFBF, {}) + getc()", n, n);
  case Language::c_stdio: return fmt::format("setvbuf(stream, NULL, _IOFBF, {}) after fopen()", n);
  case Language::cpp: return fmt::format("::read() {} at a time into a buffer and parse from it", b);
  case Language::cpp_streams:
    return fmt::format("read blocks with istream::read() into a {} buffer instead of get()", b);
  case Language::python: return fmt::format("open(path, 'rb', buffering={})", n);
  case Language::perl:
    return fmt::format("read through the buffered handle (<$fh>, read($fh, $buf, {})) instead of "
                       "sysread($fh, $c, 1)", n);
  case Language::java: return fmt::format("new BufferedInputStream(in, {})", n);
  case Language::node: return fmt::format("fs.createReadStream(path, {{ highWaterMark: {} }})", n);
  case Language::ruby: return fmt::format("IO#read({}) or each_line instead of sysread(1)", n);
  case Language::rust: return fmt::format("std::io::BufReader::with_capacity({}, reader)", n);
  case Language::go: return fmt::format("bufio.NewReaderSize(r, {})", n);
  }
  return "";
}

std::optional<Finding> evaluate(const SiteAgg& a, const RunModel& m, const AdvisorSettings& s) {
  if (a.output || a.positional || !stream_kind(a.kind) || a.calls < s.min_calls) return {};
  if (!op_moves_data(static_cast<Op>(a.op))) return {};
  const uint64_t median = a.size_quantile(0.5);
  if (median >= s.small_read_bytes || median >= s.large_io_bytes) return {};
  if (a.requested == 0 || static_cast<double>(a.bytes) < 0.8 * static_cast<double>(a.requested))
    return {}; // mostly short reads: the data is not there yet
  std::optional<Finding> found = buffered_finding(a, m, s);
  if (!found) return {};
  Finding& f = *found;
  const ReplayResult& r = *f.replay;
  const std::string b = size_text(r.buffer_size);
  f.summary = fmt::format("{} small {}s (median {} B) from one call site", a.calls,
                          op_name(static_cast<Op>(a.op)), median);
  if (!a.shared_input.empty()) {
    // The bytes after the ones it asked for are not this reader's to take: no advice to read
    // more, and no saving promised.
    f.promise = false;
    f.severity = "note";
    f.after = static_cast<double>(a.calls);
    f.saved_ns = 0;
    f.replay.reset();
    f.replay_rows.clear();
    f.change = fmt::format("none that reads ahead: {}, so bytes read past what this reader needs "
                           "would be lost to the next one; read small on purpose (as a shell's "
                           "`read` does) or give this reader an input of its own",
                           a.shared_input);
    return found;
  }
  f.change = fmt::format("read {} at a time into a buffer and take the small pieces from it", b);
  f.idiom = idiom(f.language, r.buffer_size, b);
  return found;
}

} // namespace

extern const RuleDef rule_small_reads{"small-reads", 40, {&Replay::def}, evaluate};

} // namespace valley::advisor
