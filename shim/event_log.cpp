// SPDX-License-Identifier: MIT
/// @file event_log.cpp
/// @brief One call's event: into the thread's shard buffer, into the run record the thread
/// holds (a loop of identical absorbed writes), or straight to the .vev file outside a shard.
#include "hot.h"
#include "recorder_internal.h"
#include "shard.h"

#include <atomic>

namespace valley::shim {

namespace {

uint32_t sat32(uint64_t v) { return v > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(v); }

void fill(EventRecord& r, const Call& c, uint32_t tid, uint32_t site, FdKind kind, uint8_t flags) {
  r.tid = tid;
  r.ticks = c.t0;
  r.result =
      c.result < 0 ? -c.err : static_cast<int32_t>(c.result > 0x7fffffff ? 0x7fffffff : c.result);
  r.offset = c.offset;
  r.size = sat32(c.requested);
  r.duration = sat32(c.t1 - c.t0);
  r.fd = c.fd;
  r.site = site;
  r.op = static_cast<uint8_t>(c.op);
  r.fd_kind = static_cast<uint8_t>(kind);
  r.flags = flags;
  r.reserved = c.note;
}

// A further absorbed call identical to the held run record (into the same buffer) only counts
// in it. A reader of a crashed segment may look at any moment: the count and the last time are
// right before the flag says the record is a run.
VALLEY_HOT bool extend_held(Thread& t, uint32_t site, FdKind kind, const Call& c) {
  ShardHeader& h = *t.shard.h;
  EventRecord& r = h.run;
  if (!h.held || t.run_gen != c.gen || r.site != site || r.fd != c.fd ||
      r.op != static_cast<uint8_t>(c.op) || r.fd_kind != static_cast<uint8_t>(kind) ||
      r.size != sat32(c.requested) || c.result < 0 || r.result != c.result ||
      (r.flags & ~kEventRun) != kEventCoalesced || r.duration == 0xffffffffu)
    return false;
  const uint32_t calls = (r.flags & kEventRun) ? r.duration + 1 : 2;
  r.offset = static_cast<int64_t>(c.t0);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  r.duration = calls;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  r.flags |= kEventRun;
  return true;
}

VALLEY_HOT void append(Segment& seg, Thread& t, const Call& c, uint32_t site, FdKind kind,
                       uint8_t flags) {
  uint64_t index = 0;
  EventRecord* r = shard_reserve(t.shard, &index);
  if (!r) return;
  fill(*r, c, t.tid, site, kind, flags);
  shard_commit(r, index);
  shard_maybe_drain(seg, t.shard, index, t.tid);
}

// Outside a shard: a thread that found none, or any thread after the final drain.
VALLEY_COLD void append_unsharded(Segment& seg, Thread& t, int phase, const Call& c, uint32_t site,
                                  FdKind kind, uint8_t flags) {
  if (!seg.hdr->body_events) {
    at(seg.hdr->events_dropped).fetch_add(1, std::memory_order_relaxed);
    return;
  }
  EventRecord r{};
  fill(r, c, t.tid, site, kind,
       phase == kFinished ? static_cast<uint8_t>(flags | kEventLate) : flags);
  append_direct(seg, r);
  if (phase == kFinished) at(seg.hdr->events_late).fetch_add(1, std::memory_order_relaxed);
}

} // namespace

VALLEY_HOT void log_event(Segment& seg, Thread& t, int phase, bool nested, const Call& c,
                          uint32_t site, FdKind kind) {
  const uint8_t flags = static_cast<uint8_t>((nested ? kEventNested : 0) | c.flags);
  if (phase != kActive || !t.shard.h) {
    if (!nested && t.shard.h && t.shard.h->held) commit_held(t, phase);
    append_unsharded(seg, t, phase, c, site, kind, flags);
    return;
  }
  // A signal handler's call neither joins nor ends the run its thread holds.
  if (nested) return append(seg, t, c, site, kind, flags);
  if (c.flags == kEventCoalesced && extend_held(t, site, kind, c)) return;
  if (t.shard.h->held) commit_held(t, phase);
  if (c.flags != kEventCoalesced) return append(seg, t, c, site, kind, flags);
  ShardHeader& h = *t.shard.h;
  fill(h.run, c, t.tid, site, kind, flags);
  t.run_gen = c.gen;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  h.held = 1;
}

void commit_held(Thread& t, int phase) {
  ShardHeader& h = *t.shard.h;
  if (!h.held) return;
  const EventRecord run = h.run;
  if (phase == kActive) {
    uint64_t index = 0;
    if (EventRecord* r = shard_reserve(t.shard, &index)) {
      *r = run;
      shard_commit(r, index);
      shard_maybe_drain(g_seg, t.shard, index, t.tid);
    }
  } else {
    append_direct(g_seg, run);
  }
  std::atomic_signal_fence(std::memory_order_seq_cst);
  h.held = 0;
}

} // namespace valley::shim
