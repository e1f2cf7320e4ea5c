// SPDX-License-Identifier: MIT
/// @file small_writes.cpp
/// @brief small-writes: many small writes from one site to a stream fd (file, pipe, TCP, unix
/// stream) → a buffer of the replayed size, flushed before any read of the fd.
/// Victim: tests/report/victims/small_writes.c, the demo's emit_row. Quiet for large writes,
/// datagrams, and writes that the replay (flush before reads, on size, on age) cannot merge.
/// The buffering it advises never holds a byte longer than the age bound, nor across a sync of
/// the file (B-03): what the program already tolerates bounds it.
#include "analyses/bursts.h"
#include "analyses/syncs.h"
#include "rules/rule.h"
#include "text.h"

#include <fmt/format.h>

namespace valley::advisor {

namespace {

std::string idiom(Language l, uint64_t n, const std::string& b) {
  switch (l) {
  case Language::c:
    return fmt::format("keep a char buf[{}] and one write() per full buffer, or fdopen() the fd "
                       "and setvbuf(f, NULL, _IOFBF, {})", n, n);
  case Language::c_stdio:
    return fmt::format("setvbuf(stream, NULL, _IOFBF, {}) after fopen(), and no fflush() per record", n);
  case Language::cpp:
    return fmt::format("append the records to a std::string and ::write() it per {}, or write "
                       "through an std::ofstream", b);
  case Language::cpp_streams:
    return fmt::format("write '\\n' instead of std::endl (it flushes), and give the filebuf a {} "
                       "buffer with rdbuf()->pubsetbuf() before open()", b);
  case Language::python:
    return fmt::format("do not run with -u or PYTHONUNBUFFERED=1 and drop flush=True / flush() per "
                       "record (sys.stdout.reconfigure(line_buffering=False) for stdout); for a "
                       "file: open(path, 'wb', buffering={}) or io.BufferedWriter(raw, {})",
                       n, n);
  case Language::perl:
    return "leave $| at 0 on this handle (do not set $| = 1), or join the records and print them "
           "once";
  case Language::java:
    return fmt::format("wrap the stream: new BufferedOutputStream(out, {}) (or a BufferedWriter), "
                       "and no flush() per record", n);
  case Language::node:
    return "collect the chunks and write them once, or stream.cork() before the records and "
           "process.nextTick(() => stream.uncork()) after";
  case Language::ruby: return "leave IO#sync false on this IO and no flush per record";
  case Language::rust: return fmt::format("std::io::BufWriter::with_capacity({}, writer)", n);
  case Language::go: return fmt::format("bufio.NewWriterSize(w, {}) and Flush() before reading", n);
  }
  return "";
}

std::optional<Finding> evaluate(const SiteAgg& a, const RunModel& m, const AdvisorSettings& s) {
  if (!a.output || a.positional || !stream_kind(a.kind) || a.calls < s.min_calls) return {};
  if (!op_moves_data(static_cast<Op>(a.op))) return {};
  const uint64_t median = a.size_quantile(0.5);
  if (median >= s.small_write_bytes || median >= s.large_io_bytes) return {};
  const Bursts* bursts = find_analysis<Bursts>(m);
  if (bursts && bursts->of(a).calls * 2 > a.calls) return {}; // write-gather's case
  std::optional<Finding> found = buffered_finding(a, m, s);
  if (!found) return {};
  Finding& f = *found;
  const ReplayResult& r = *f.replay;
  const std::string b = size_text(r.buffer_size);
  f.summary = fmt::format("{} small {}s (median {} B) from one call site", a.calls,
                          op_name(static_cast<Op>(a.op)), median);
  uint64_t age_ms = s.max_age_ms;
  const Syncs* syncs = find_analysis<Syncs>(m);
  const SyncedWrites* synced = syncs ? syncs->writes(a) : nullptr;
  if (synced && synced->syncs > 0) {
    std::string every = synced->interval_ns.count()
                            ? fmt::format(" about every {}", format_ns(synced->interval_ns.quantile(0.5)))
                            : "";
    f.notes.push_back(fmt::format(
        "the program syncs this file{} ({} syncs after these writes): the buffer must be written "
        "before each sync, as the coalescer and the replay do, so what the program made durable "
        "stays so",
        every, synced->syncs));
    if (synced->interval_ns.count() && synced->interval_ns.quantile(0.1) < 1e6 * static_cast<double>(age_ms))
      age_ms = std::max<uint64_t>(1, static_cast<uint64_t>(synced->interval_ns.quantile(0.1) / 1e6));
  }
  f.change = fmt::format("collect the writes in a {} buffer; write it out when full, before any "
                         "read, poll or sync of the fd, and at most {} ms after its first byte",
                         b, age_ms);
  const uint64_t gap = a.gap_median_ns();
  if (static_cast<double>(gap) * 4 >= static_cast<double>(age_ms) * 1e6)
    f.notes.push_back(fmt::format(
        "its writes come about {} apart: many are already one write per batch (per event-loop "
        "iteration), and buffering merges only those less than {} ms apart; no byte waits longer",
        format_ns(static_cast<double>(gap)), age_ms));
  f.idiom = idiom(f.language, r.buffer_size, b);
  const bool socket = a.kind == static_cast<uint8_t>(FdKind::tcp) ||
                      a.kind == static_cast<uint8_t>(FdKind::unix_stream);
  if (f.language == Language::python && socket)
    f.idiom = fmt::format("collect the parts and send them once: sock.sendall(b\"\".join(parts)) "
                          "or sock.sendmsg(parts); for a stream, wrap it: "
                          "io.BufferedWriter(sock.makefile('wb', buffering=0), {})",
                          r.buffer_size);
  f.coalescible = a.kind != static_cast<uint8_t>(FdKind::tty);
  return found;
}

} // namespace

extern const RuleDef rule_small_writes{"small-writes", 30, {&Replay::def, &Bursts::def, &Syncs::def},
                                       evaluate};

} // namespace valley::advisor
