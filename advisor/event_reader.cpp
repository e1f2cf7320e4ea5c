// SPDX-License-Identifier: MIT
/// @file event_reader.cpp
/// @brief Streams a trace's events: the .vev file, then the ring tail a dead process left.
#include "reader_detail.h"

#include <algorithm>
#include <optional>

namespace valley::advisor {
using namespace detail;

namespace {

struct EventsFileView {
  uint64_t first = 0; ///< offset of record 0
  uint64_t records = 0;
};

/// Validates a .vev header; nullopt when its records cannot be read.
std::optional<EventsFileView> check_events_file(const InputFile& file, const Trace& t,
                                                Reporter& report) {
  if (!file.ok()) {
    report("cannot open: {}", file.error());
    return std::nullopt;
  }
  EventsHeader eh{};
  if (file.size() < sizeof(EventsHeader) || !file.read_at(0, &eh, sizeof(eh))) {
    report("truncated header: file is {} bytes, an events header is {}", file.size(),
           sizeof(EventsHeader));
    return std::nullopt;
  }
  if (!check_magic_and_version(eh.magic, kEventsMagic, "events file", eh.version, report))
    return std::nullopt;
  if (eh.header_size < sizeof(EventsHeader) || eh.header_size > file.size()) {
    report("header_size {} is out of range ({}..{} for this file)", eh.header_size,
           sizeof(EventsHeader), file.size());
    return std::nullopt;
  }
  if (eh.record_size != sizeof(EventRecord)) {
    report("record_size {} (offset {}), this valley reads records of {} bytes; events skipped",
           eh.record_size, hex(offsetof(EventsHeader, record_size)), sizeof(EventRecord));
    return std::nullopt;
  }
  if (t.header_valid && (eh.pid != t.header.pid || eh.seq != t.header.seq))
    report("header says pid {} seq {}, its segment says pid {} seq {}", eh.pid, eh.seq,
           t.header.pid, t.header.seq);
  uint64_t body = file.size() - eh.header_size;
  uint64_t partial = body % sizeof(EventRecord);
  EventsFileView v{eh.header_size, body / sizeof(EventRecord)};
  if (partial != 0)
    report("truncated record at offset {}: {} of {} bytes; the {} complete records are kept",
           hex(v.first + v.records * sizeof(EventRecord)), partial, sizeof(EventRecord), v.records);
  return v;
}

/// a run record (kEventRun) stands for identical calls the coalescer absorbed: two or more
/// successful non-positional writes to a stream, the last one not before the first. Anything
/// else claiming to be a run is damage, and expanding it would trust its count.
bool run_possible(const EventRecord& e) {
  const auto op = static_cast<Op>(e.op);
  const auto kind = static_cast<FdKind>(e.fd_kind);
  const bool stream_write = op == Op::write || op == Op::writev || op == Op::send ||
                            op == Op::sendto || op == Op::sendmsg;
  const bool datagram =
      kind == FdKind::udp || kind == FdKind::unix_dgram || kind == FdKind::unix_seqpacket;
  return (e.flags & kEventCoalesced) && stream_write && !datagram && e.result >= 0 &&
         e.duration >= 2 && e.offset >= 0 && static_cast<uint64_t>(e.offset) >= e.ticks;
}

/// Validates one event; reports the first few bad ones of a file with their position.
class EventChecker {
public:
  explicit EventChecker(Reporter& report) : report_(report) {}
  /// `where` is only formatted for a bad record: the check runs on every event.
  template <typename Where> bool ok(const EventRecord& e, Where&& where) {
    if (!op_valid(e.op) || !kind_valid(e.fd_kind)) {
      if (++bad_ <= kShown)
        report_("{}: op {} / fd kind {} out of range (op 1..{}, kind 0..{}); event skipped",
                where(), e.op, e.fd_kind, kOpMax, kFdKindMax);
      return false;
    }
    if ((e.flags & kEventRun) && !run_possible(e)) {
      if (++bad_ <= kShown)
        report_("{}: a run record of {} calls ({} on {}, result {}, flags {:#x}, last at tick {}) "
                "is not one the shim writes; event skipped",
                where(), e.duration, op_name(static_cast<Op>(e.op)),
                fd_kind_name(static_cast<FdKind>(e.fd_kind)), e.result, e.flags, e.offset);
      return false;
    }
    return true;
  }
  void finish() {
    if (bad_ > kShown) report_("{} more invalid events skipped", bad_ - kShown);
  }
  uint64_t bad() const { return bad_; }

private:
  static constexpr uint64_t kShown = 5;
  Reporter& report_;
  uint64_t bad_ = 0;
};

constexpr size_t kEventChunk = 4096;

/// Returns how many records of the file are drained ring records (not late ones).
uint64_t read_file_events(const Trace& t, const EventVisitor& visit, std::vector<Problem>& problems,
                          EventTally& tally) {
  Reporter report{problems, file_name(t.events_path)};
  InputFile file(t.events_path);
  std::optional<EventsFileView> v = check_events_file(file, t, report);
  if (!v) return 0;
  EventChecker checker(report);
  std::vector<EventRecord> buf(static_cast<size_t>(std::min<uint64_t>(v->records, kEventChunk)));
  uint64_t nonlate = 0;
  for (uint64_t first = 0; first < v->records; first += kEventChunk) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kEventChunk, v->records - first));
    uint64_t at = v->first + first * sizeof(EventRecord);
    if (!file.read_at(at, buf.data(), n * sizeof(EventRecord))) {
      report("cannot read records at offset {}", hex(at));
      break;
    }
    for (size_t i = 0; i < n; ++i) {
      const EventRecord& e = buf[i];
      if ((e.flags & kEventLate) == 0) ++nonlate;
      if (!checker.ok(e, [&] {
            return fmt::format("record {} at offset {}", first + i,
                               hex(at + i * sizeof(EventRecord)));
          }))
        continue;
      tally.count(e);
      ++tally.from_file;
      visit(e, EventSource::file);
    }
  }
  checker.finish();
  tally.invalid += checker.bad();
  if (t.header_valid) {
    // A drain skips torn slots and counts records it cannot write as dropped, so only this
    // many drained records must be in the file.
    const SegmentHeader& h = t.header;
    uint64_t lost = h.events_torn + h.events_dropped;
    uint64_t must = h.ring_drained > lost ? h.ring_drained - lost : 0;
    if (nonlate < must)
      report("holds {} drained events, the segment says at least {} were written; {} missing",
             nonlate, must, must - nonlate);
  }
  return nonlate;
}

/// `skip`: undrained indices already in the events file (see read_events).
void read_ring_tail(const Trace& t, uint64_t skip, const EventVisitor& visit,
                    std::vector<Problem>& problems, EventTally& tally) {
  const SegmentHeader& h = t.header;
  if (h.ring_head <= h.ring_drained) return;
  Reporter report{problems, file_name(t.segment_path)};
  if (h.state & kStateRingReleased) {
    report("ring was released with {} undrained events", h.ring_head - h.ring_drained);
    return;
  }
  InputFile file(t.segment_path);
  if (!file.ok()) {
    report("cannot reopen: {}", file.error());
    return;
  }
  const uint64_t cap = h.ring.capacity;
  if (cap == 0 || (cap & (cap - 1)) != 0) {
    report("{} undrained events, but the ring capacity is {}; not read",
           h.ring_head - h.ring_drained, cap);
    return;
  }
  SectionView v =
      check_section("ring", h.ring, sizeof(EventRecord), h.header_size, file.size(), report);
  if (v.count < cap) {
    if (v.count > 0) report("ring tail not read: the ring section is cut short");
    return;
  }
  uint64_t from = h.ring_drained;
  if (h.ring_head - from > cap) {
    // The shim drops when full, so more undrained indices than slots means a bad header.
    report("{} undrained events exceed the ring capacity {}; only the last {} are read",
           h.ring_head - from, cap, cap);
    from = h.ring_head - cap;
  }
  from += std::min(skip, h.ring_head - from);
  EventChecker checker(report);
  std::vector<EventRecord> buf(static_cast<size_t>(std::min<uint64_t>(cap, kEventChunk)));
  for (uint64_t i = from; i < h.ring_head;) {
    // A run of consecutive slots, up to the ring's end.
    uint64_t slot = i & (cap - 1);
    uint64_t n = std::min<uint64_t>({buf.size(), h.ring_head - i, cap - slot});
    uint64_t at = v.offset + slot * sizeof(EventRecord);
    if (!file.read_at(at, buf.data(), n * sizeof(EventRecord))) {
      report("cannot read ring slots at offset {}", hex(at));
      return;
    }
    for (uint64_t k = 0; k < n; ++k, ++i) {
      const EventRecord& e = buf[k];
      if (e.commit != static_cast<uint32_t>(i + 1)) {
        ++tally.torn;
        continue;
      }
      if (!checker.ok(e, [&] {
            return fmt::format("ring slot {} (index {}) at offset {}", slot + k, i,
                               hex(at + k * sizeof(EventRecord)));
          }))
        continue;
      tally.count(e);
      ++tally.from_ring;
      visit(e, EventSource::ring);
    }
  }
  checker.finish();
  tally.invalid += checker.bad();
}

} // namespace

EventTally read_events(const Trace& t, const EventVisitor& visit, std::vector<Problem>& problems) {
  EventTally tally;
  uint64_t drained_in_file = 0;
  if (!t.events_path.empty()) drained_in_file = read_file_events(t, visit, problems, tally);
  if (!t.header_valid) return tally;
  // A process killed between writing a drained batch and advancing ring_drained leaves that
  // batch both in the file and in the ring: more drained records in the file than
  // ring_drained (minus torn slots, never written) means the first undrained ones are copies.
  const SegmentHeader& h = t.header;
  uint64_t written_max = h.ring_drained > h.events_torn ? h.ring_drained - h.events_torn : 0;
  uint64_t skip = drained_in_file > written_max ? drained_in_file - written_max : 0;
  read_ring_tail(t, skip, visit, problems, tally);
  return tally;
}

} // namespace valley::advisor
