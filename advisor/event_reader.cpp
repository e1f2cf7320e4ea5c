// SPDX-License-Identifier: MIT
/// @file event_reader.cpp
/// @brief Streams a trace's events: each shard's blocks in the .vev file, then what its buffer
/// still holds and its held run record, and the directly appended blocks, merged by time.
#include "reader_detail.h"

#include <algorithm>
#include <optional>
#include <queue>

namespace valley::advisor {
using namespace detail;

namespace {

struct EventsFileView {
  uint64_t first = 0; ///< offset of record 0
  uint64_t records = 0;
  bool cut = false;   ///< the file ends inside a record (reported)
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
  EventsFileView v{eh.header_size, body / sizeof(EventRecord), partial != 0};
  if (partial != 0)
    report("truncated record at offset {}: {} of {} bytes; the records before it are kept",
           hex(v.first + v.records * sizeof(EventRecord)), partial, sizeof(EventRecord));
  return v;
}

/// a run record (kEventRun) stands for identical calls the coalescer absorbed: two or more
/// successful non-positional writes to a stream, the last one not before the first. Anything
/// else claiming to be a run is damage, and expanding it would trust its count.
bool run_possible(const EventRecord& e) {
  const auto op = static_cast<Op>(e.op);
  const auto kind = static_cast<FdKind>(e.fd_kind);
  const bool datagram =
      kind == FdKind::udp || kind == FdKind::unix_dgram || kind == FdKind::unix_seqpacket;
  return (e.flags & kEventCoalesced) && op_is_stream_write(op) && !datagram && e.result >= 0 &&
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

/// Records of one block of the .vev file.
struct FileRun {
  uint64_t offset;  ///< of its first record
  uint64_t count;
  uint64_t ordinal; ///< records of the file before it (block headers not counted)
};

/// One thread slot's records, in the order its thread wrote them (or the direct ones).
struct Stream {
  std::vector<FileRun> file;
  uint64_t file_end = 0; ///< the shard index after its last block in the file
  uint64_t tail_from = 0, tail_to = 0; ///< its buffer's undrained indices
  bool held = false;
  EventRecord run{};
  uint32_t shard = kBlockDirect;
};

constexpr uint32_t kMaxStreams = 4096;

/// The .vev file's blocks, by stream; returns how many shard records (not late) it holds.
uint64_t index_blocks(const InputFile& file, const EventsFileView& v, const Trace& t,
                      std::vector<Stream>& shards, Stream& direct, Reporter& report) {
  uint64_t at = v.first, left = v.records, in_shards = 0, ordinal = 0;
  while (left > 0) {
    EventBlock b{};
    if (!file.read_at(at, &b, sizeof b)) {
      report("cannot read the block at offset {}", hex(at));
      break;
    }
    --left;
    if (b.magic != kBlockMagic) {
      report("offset {}: not a block header; the remaining {} records are not read", hex(at), left);
      break;
    }
    uint64_t n = b.count;
    if (n > left) {
      if (!v.cut) // a cut file is reported once already
        report("block at offset {} claims {} records, the file holds {}; cut", hex(at), n, left);
      n = left;
    }
    const FileRun run{at + sizeof b, n, ordinal};
    ordinal += n;
    // Without a readable segment the shard count is unknown: any shard the blocks name.
    if (!t.header_valid && b.shard != kBlockDirect && b.shard < kMaxStreams && b.shard >= shards.size())
      shards.resize(b.shard + 1);
    if (b.shard == kBlockDirect) {
      direct.file.push_back(run);
    } else if (b.shard < shards.size()) {
      Stream& s = shards[b.shard];
      s.file.push_back(run);
      s.file_end = std::max(s.file_end, b.first + n);
      in_shards += n;
    } else {
      report("block at offset {} names shard {}, the segment has {}; skipped", hex(at), b.shard,
             t.header_valid ? std::to_string(shards.size()) : "no readable header");
    }
    at += (1 + n) * sizeof(EventRecord);
    left -= n;
  }
  return in_shards;
}

/// Reads a stream's records in order, a chunk at a time.
class Cursor {
public:
  Cursor(const Stream& s, const InputFile* events, const InputFile* segment, const Trace& t,
         EventChecker* file_check, EventChecker* ring_check, EventTally& tally)
      : s_(s), events_(events), segment_(segment), t_(t), file_check_(file_check),
        ring_check_(ring_check), tally_(tally), tail_(s.tail_from) {}

  /// The next valid record, or nullptr at the end.
  const EventRecord* next(EventSource* source) {
    for (;;) {
      if (pos_ < buf_.size()) {
        *source = source_;
        last_ = buf_[pos_++];
        return &last_;
      }
      if (!refill()) return nullptr;
    }
  }

private:
  static constexpr uint64_t kChunk = 256;

  bool refill() {
    buf_.clear();
    pos_ = 0;
    while (run_ < s_.file.size()) {
      const FileRun& r = s_.file[run_];
      if (done_ == r.count) {
        ++run_;
        done_ = 0;
        continue;
      }
      const uint64_t n = std::min(kChunk, r.count - done_);
      std::vector<EventRecord> raw(n);
      const uint64_t at = r.offset + done_ * sizeof(EventRecord);
      done_ += n;
      if (!events_ || !events_->read_at(at, raw.data(), n * sizeof(EventRecord))) continue;
      source_ = EventSource::file;
      for (uint64_t i = 0; i < n; ++i)
        if (file_check_->ok(raw[i], [&] {
              return fmt::format("record {} at offset {}", r.ordinal + done_ - n + i,
                                 hex(at + i * sizeof(EventRecord)));
            }))
          keep(raw[i], true);
      if (!buf_.empty()) return true;
    }
    source_ = EventSource::ring;
    while (tail_ < s_.tail_to) {
      const SegmentHeader& h = t_.header;
      const uint64_t mask = h.body_events - 1;
      const uint64_t slot = tail_ & mask;
      const uint64_t n = std::min({kChunk, s_.tail_to - tail_, h.body_events - slot});
      std::vector<EventRecord> raw(n);
      const uint64_t at = h.bodies_offset + uint64_t{s_.shard} * h.body_size + h.body_events_offset +
                          slot * sizeof(EventRecord);
      const uint64_t first = tail_;
      tail_ += n;
      if (!segment_ || !segment_->read_at(at, raw.data(), n * sizeof(EventRecord))) continue;
      for (uint64_t i = 0; i < n; ++i) {
        const EventRecord& e = raw[i];
        if (e.commit != static_cast<uint32_t>(first + i + 1) || e.op == 0) {
          ++tally_.torn; // never committed, or a tombstone
          continue;
        }
        if (ring_check_->ok(e, [&] {
              return fmt::format("shard {} slot {} (index {}) at offset {}", s_.shard, slot + i,
                                 first + i, hex(at + i * sizeof(EventRecord)));
            }))
          keep(e, false);
      }
      if (!buf_.empty()) return true;
    }
    if (s_.held && !held_done_) {
      held_done_ = true;
      // A thread killed between committing its run record and clearing `held` left it twice.
      const EventRecord& e = s_.run;
      const bool copy = have_last_ && last_kept_.ticks == e.ticks && last_kept_.site == e.site &&
                        last_kept_.fd == e.fd && last_kept_.op == e.op;
      if (!copy && ring_check_->ok(e, [&] { return fmt::format("shard {} held run record", s_.shard); }))
        keep(e, false);
      return !buf_.empty();
    }
    return false;
  }

  void keep(const EventRecord& e, bool from_file) {
    buf_.push_back(e);
    last_kept_ = e;
    have_last_ = true;
    tally_.count(e);
    ++(from_file ? tally_.from_file : tally_.from_ring);
  }

  const Stream& s_;
  const InputFile* events_;
  const InputFile* segment_;
  const Trace& t_;
  EventChecker* file_check_;
  EventChecker* ring_check_;
  EventTally& tally_;
  std::vector<EventRecord> buf_;
  size_t pos_ = 0, run_ = 0;
  uint64_t done_ = 0, tail_;
  bool held_done_ = false, have_last_ = false;
  EventSource source_ = EventSource::file;
  EventRecord last_{}, last_kept_{};
};

/// Sets each shard's undrained buffer range; reports what cannot be read.
void plan_tails(const Trace& t, std::vector<Stream>& shards, Reporter& report) {
  const SegmentHeader& h = t.header;
  for (uint32_t i = 0; i < shards.size() && i < t.shards.size(); ++i) {
    Stream& s = shards[i];
    const ShardHeader& sh = t.shards[i];
    s.shard = i;
    s.held = sh.held == 1 && t.bodies[i];
    s.run = sh.run;
    const uint64_t from = std::max(sh.drained, s.file_end);
    if (sh.head <= from) continue;
    if (!t.bodies[i] || h.body_events == 0) {
      report("shard {}: {} undrained events, but its buffer is not in the file", i, sh.head - from);
      continue;
    }
    if (h.state & kStateRingReleased && sh.tid == 0) {
      report("shard {}: its buffer was released with {} undrained events", i, sh.head - from);
      continue;
    }
    s.tail_from = from;
    if (sh.head - from > h.body_events) {
      // The shim never lets a buffer hold more than its slots: a bad header.
      report("shard {}: {} undrained events exceed its {} slots; only the last {} are read", i,
             sh.head - from, h.body_events, h.body_events);
      s.tail_from = sh.head - h.body_events;
    }
    s.tail_to = sh.head;
  }
}

} // namespace

EventTally read_events(const Trace& t, const EventVisitor& visit, std::vector<Problem>& problems) {
  EventTally tally;
  std::vector<Stream> shards(t.header_valid ? t.shards.size() : 0);
  Stream direct;
  Reporter file_report{problems, file_name(t.events_path)};
  Reporter seg_report{problems, file_name(t.segment_path)};
  std::optional<InputFile> events;
  uint64_t in_file = 0;
  if (!t.events_path.empty()) {
    events.emplace(t.events_path);
    if (std::optional<EventsFileView> v = check_events_file(*events, t, file_report))
      in_file = index_blocks(*events, *v, t, shards, direct, file_report);
    else
      events.reset();
  }
  std::optional<InputFile> segment;
  if (t.header_valid) {
    plan_tails(t, shards, seg_report);
    segment.emplace(t.segment_path);
    if (!segment->ok()) segment.reset();
    // A drain skips tombstones and counts records it cannot write as dropped, so only this
    // many drained records must be in the file.
    uint64_t drained = 0, torn = 0;
    for (const ShardHeader& sh : t.shards) {
      drained += sh.drained;
      torn += sh.torn;
    }
    const uint64_t lost = torn + t.header.events_dropped;
    const uint64_t must = drained > lost ? drained - lost : 0;
    if (events && in_file < must)
      file_report("holds {} drained events, the segment says at least {} were written; {} missing",
                  in_file, must, must - in_file);
  }

  EventChecker file_check(file_report), ring_check(seg_report);
  std::vector<Cursor> cursors;
  cursors.reserve(shards.size() + 1);
  const InputFile* ev = events ? &*events : nullptr;
  const InputFile* sg = segment ? &*segment : nullptr;
  for (const Stream& s : shards) cursors.emplace_back(s, ev, sg, t, &file_check, &ring_check, tally);
  cursors.emplace_back(direct, ev, sg, t, &file_check, &ring_check, tally);

  // Each stream is in its thread's order; across streams, the earliest call first.
  using Head = std::pair<uint64_t, size_t>; // (ticks, cursor)
  std::priority_queue<Head, std::vector<Head>, std::greater<>> heads;
  std::vector<const EventRecord*> current(cursors.size());
  std::vector<EventSource> sources(cursors.size());
  for (size_t i = 0; i < cursors.size(); ++i)
    if ((current[i] = cursors[i].next(&sources[i]))) heads.push({current[i]->ticks, i});
  while (!heads.empty()) {
    const size_t i = heads.top().second;
    heads.pop();
    visit(*current[i], sources[i]);
    if ((current[i] = cursors[i].next(&sources[i]))) heads.push({current[i]->ticks, i});
  }
  file_check.finish();
  ring_check.finish();
  tally.invalid += file_check.bad() + ring_check.bad();
  return tally;
}

} // namespace valley::advisor
