// SPDX-License-Identifier: MIT
#include "shard.h"

#include "clock.h"
#include "diag.h"
#include "hot.h"
#include "sys.h"

#include <cerrno>
#include <fcntl.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

namespace valley::shim {
namespace {

// Slots kept free for signal handlers that nest between the owner's room check and its xadd.
constexpr uint32_t kMaxProbe = 16; // a full shard table must not turn every call into a scan
constexpr uint32_t kPageRows = 4096 / sizeof(CounterRow); // rows wholly in a table's first page
constexpr int kBlocksPerWrite = 16;

uint64_t mix(uint64_t k) {
  k ^= k >> 31;
  k *= 0x9E3779B97F4A7C15ULL;
  return k ^ (k >> 29);
}

bool take_drain(ShardHeader& h, uint32_t tid, bool wait) {
  for (int tries = 0;; ++tries) {
    uint32_t holder = 0;
    if (at(h.drain_tid).compare_exchange_strong(holder, tid, std::memory_order_acquire)) return true;
    // Held by this very thread: a signal handler inside its drain. Never wait for oneself.
    if (holder == tid || !wait || tries >= 1000) return false;
    sched_yield();
  }
}

void give_drain(ShardHeader& h) { at(h.drain_tid).store(0, std::memory_order_release); }

// Caller holds the drain word. Writes the committed records from `drained` on, in blocks that
// never wrap the buffer, and stores the new `drained`.
bool drain_held(Segment& seg, uint32_t i) {
  ShardHeader& h = seg.shards[i];
  EventRecord* ev = seg.body_events(i);
  const uint64_t mask = seg.hdr->body_events - 1;
  const uint64_t head = at(h.head).load(std::memory_order_acquire);
  uint64_t at_index = at(h.drained).load(std::memory_order_relaxed);
  bool ok = true;
  for (;;) {
    EventBlock blocks[kBlocksPerWrite];
    iovec iov[2 * kBlocksPerWrite];
    int nb = 0, n = 0;
    uint64_t records = 0, tombstones = 0, to = at_index;
    bool stuck = false;
    while (nb < kBlocksPerWrite && to < head) {
      const EventRecord& r = ev[to & mask];
      if (at(const_cast<uint32_t&>(r.commit)).load(std::memory_order_acquire) !=
          static_cast<uint32_t>(to + 1)) {
        stuck = true; // its writer is still at it (or a handler interrupted it)
        break;
      }
      if (r.op == 0) {
        ++tombstones;
        ++to;
        continue;
      }
      const uint64_t first = to;
      do {
        ++to;
      } while (to < head && (to & mask) != 0 && ev[to & mask].op != 0 &&
               at(ev[to & mask].commit).load(std::memory_order_acquire) ==
                   static_cast<uint32_t>(to + 1));
      EventBlock& b = blocks[nb++];
      b = EventBlock{};
      b.magic = kBlockMagic;
      b.shard = i;
      b.first = first;
      b.count = static_cast<uint32_t>(to - first);
      b.tid = at(h.tid).load(std::memory_order_relaxed);
      iov[n++] = {&b, sizeof b};
      iov[n++] = {&ev[first & mask], (to - first) * sizeof(EventRecord)};
      records += to - first;
    }
    if (to == at_index) return ok && !stuck && to == head;
    if (n && !append_events(seg, iov, n)) {
      // The records cannot be kept; say so once and count them, so that the buffer keeps
      // moving and the program is never held up.
      if (ok) diag("warning: cannot write ", seg.ev_path, "; events dropped");
      at(seg.hdr->events_dropped).fetch_add(records, std::memory_order_relaxed);
      ok = false;
    }
    if (tombstones) at(h.torn).fetch_add(tombstones, std::memory_order_relaxed);
    at(h.drained).store(to, std::memory_order_release);
    at_index = to;
    segment_calibrate(&seg);
    if (stuck || to == head) return ok && !stuck;
  }
}

} // namespace

bool append_events(Segment& seg, const iovec* iov, int n) {
  // Opened per drain: valley never holds an fd the program could close, reuse or count.
  int fd = sys::open(seg.ev_path, O_WRONLY | O_APPEND);
  if (fd < 0 && errno == ENOENT && segment_create_events(seg))
    fd = sys::open(seg.ev_path, O_WRONLY | O_APPEND);
  if (fd < 0) return false;
  size_t total = 0;
  for (int i = 0; i < n; ++i) total += iov[i].iov_len;
  // Under RLIMIT_FSIZE, growing the file past it would raise SIGXFSZ in the program.
  if (const uint64_t limit = sys::file_size_limit(); limit != ~uint64_t{0}) {
    struct ::stat st;
    if (sys::fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) + total > limit) {
      sys::close(fd);
      return false;
    }
  }
  const ssize_t w = ::syscall(SYS_writev, fd, iov, n);
  if (w >= 0) sys::note_own_write(static_cast<uint64_t>(w));
  bool ok = w == static_cast<ssize_t>(total);
  if (!ok && w >= 0) { // short write: finish it piece by piece
    size_t skip = static_cast<size_t>(w);
    ok = true;
    for (int i = 0; i < n && ok; ++i) {
      if (skip >= iov[i].iov_len) {
        skip -= iov[i].iov_len;
        continue;
      }
      ok = sys::write_all(fd, static_cast<const char*>(iov[i].iov_base) + skip, iov[i].iov_len - skip);
      skip = 0;
    }
  }
  sys::close(fd);
  return ok;
}

ShardRef shard_ref(Segment& seg, uint32_t i) {
  ShardRef s;
  s.h = &seg.shards[i];
  s.seg = &seg;
  s.row_pages = &seg.body_pages[i];
  s.events_backed = &seg.events_backed[i];
  s.rows = seg.body_counters(i);
  s.rows_mask = seg.hdr->body_counters - 1;
  if (seg.hdr->body_events) {
    s.events = seg.body_events(i);
    s.events_mask = seg.hdr->body_events - 1;
  }
  s.index = i;
  return s;
}

namespace {

enum class Probe { found, taken, unbacked };

VALLEY_HOT Probe try_row(const ShardRef& s, uint32_t i, uint64_t key) {
  CounterRow& r = s.rows[i];
  // The row's pages (a row may straddle two) must be backed before it is even read.
  const uint32_t first = (i * sizeof(CounterRow)) >> kPageShift;
  const uint32_t last = ((i + 1) * sizeof(CounterRow) - 1) >> kPageShift;
  const uint32_t pages = (1u << first) | (1u << last);
  if ((at(*s.row_pages).load(std::memory_order_acquire) & pages) != pages &&
      !segment_back(*s.seg, &r, sizeof r))
    return Probe::unbacked;
  uint64_t k = at(r.key).load(std::memory_order_acquire);
  if (k == key) return Probe::found;
  if (k != 0) return Probe::taken;
  // A handler of this thread may claim the same slot between the load and here: CAS.
  if (at(r.key).compare_exchange_strong(k, key, std::memory_order_acq_rel) || k == key)
    return Probe::found;
  return Probe::taken;
}

} // namespace

// A key tries the rows of the table's first page before the whole table, so that a thread with
// a few keys leaves one page of counters, not one per key. It goes further only when all of
// those rows are taken; rows are never freed, so it can never be given a second row there later.
VALLEY_HOT CounterRow* shard_row(const ShardRef& s, uint64_t key) {
  const uint32_t h = static_cast<uint32_t>(mix(key));
  const uint32_t window = kPageRows <= s.rows_mask + 1 ? kPageRows : s.rows_mask + 1;
  for (uint32_t n = 0, i = h % window; n < window; ++n, i = i + 1 == window ? 0 : i + 1) {
    const Probe p = try_row(s, i, key);
    if (p == Probe::found) return &s.rows[i];
    if (p == Probe::unbacked) return nullptr;
  }
  uint32_t i = h & s.rows_mask;
  for (uint32_t n = 0; n < kMaxProbe; ++n, i = (i + 1) & s.rows_mask) {
    const Probe p = try_row(s, i, key);
    if (p == Probe::found) return &s.rows[i];
    if (p == Probe::unbacked) return nullptr;
  }
  return nullptr;
}

VALLEY_COLD bool shard_back_events(const ShardRef& s, uint64_t need) {
  return segment_back_events(*s.seg, s.index, need);
}

VALLEY_COLD void shard_owner_drain(Segment& seg, const ShardRef& s, uint32_t tid) {
  ShardHeader& h = *s.h;
  if (!take_drain(h, tid, false)) return;
  drain_held(seg, s.index);
  give_drain(h);
}

bool shard_drain(Segment& seg, uint32_t i, uint32_t tid, bool wait) {
  if (!seg.hdr->body_events) return true;
  ShardHeader& h = seg.shards[i];
  if (!take_drain(h, tid, wait)) return false;
  const bool ok = drain_held(seg, i);
  give_drain(h);
  return ok;
}

void shard_tombstone_open(const ShardRef& s) {
  if (!s.h || !s.events) return;
  ShardHeader& h = *s.h;
  const uint64_t head = at(h.head).load(std::memory_order_acquire);
  for (uint64_t i = at(h.drained).load(std::memory_order_acquire); i < head; ++i) {
    EventRecord& r = s.events[i & s.events_mask];
    if (at(r.commit).load(std::memory_order_acquire) == static_cast<uint32_t>(i + 1)) continue;
    r.op = 0;
    shard_commit(&r, i);
  }
}

void append_direct(Segment& seg, const EventRecord& r) {
  EventBlock b{};
  b.magic = kBlockMagic;
  b.shard = kBlockDirect;
  b.count = 1;
  b.tid = r.tid;
  iovec iov[2] = {{&b, sizeof b}, {const_cast<EventRecord*>(&r), sizeof r}};
  if (!append_events(seg, iov, 2)) at(seg.hdr->events_dropped).fetch_add(1, std::memory_order_relaxed);
}

} // namespace valley::shim
