// SPDX-License-Identifier: MIT
/// @file shard.h
/// @brief One thread's slice of the segment: its counter rows and its event buffer, written by
/// that thread alone (and by signal handlers that interrupt it), so with plain instructions.
///
/// Event buffer protocol (ShardHeader fields; index i lives in slot i & mask):
///   owner:   checks head - drained leaves room [pairs with ②]; i = xadd(head, 1) (one
///            instruction: a handler that nests reserves i + 1); fills slot i; stores
///            commit = (uint32_t)(i + 1) last, with release [pairs with ①]
///   drainer: holds drain_tid (CAS 0 → its tid: the owner, or the final drain at exit);
///            ① loads commit with acquire for slots from drained up, writes the committed ones
///            to the .vev file in blocks, skips tombstones (op 0), stops at the first slot not
///            committed; ② stores drained with release
/// A slot reserved by a frame that will never come back (a longjmp out of a handler, a thread
/// ending inside one) becomes a tombstone when its thread knows that: shard_tombstone_open.
#pragma once

#include "segment.h"

#include <cstdint>

namespace valley::shim {

/// A thread's view of the shard it owns.
struct ShardRef {
  ShardHeader* h = nullptr; ///< nullptr: the thread has no shard
  Segment* seg = nullptr;
  uint32_t* row_pages = nullptr;     ///< Segment::body_pages of this shard
  uint64_t* events_backed = nullptr; ///< Segment::events_backed of this shard
  CounterRow* rows = nullptr;
  EventRecord* events = nullptr; ///< nullptr when the event log is off
  uint64_t events_mask = 0;
  uint32_t rows_mask = 0;
  uint32_t index = 0;
};

/// Adds to memory only this thread writes: one instruction, so a signal handler on this thread
/// (which runs between instructions) cannot lose the update, and no lock prefix.
inline void local_add(uint64_t& field, uint64_t v) {
#if defined(__x86_64__)
  asm volatile("addq %1, %0" : "+m"(field) : "er"(v));
#else
  std::atomic_ref<uint64_t>(field).fetch_add(v, std::memory_order_relaxed);
#endif
}

/// Returns the old value; one instruction, as local_add.
inline uint64_t local_fetch_inc(uint64_t& field) {
#if defined(__x86_64__)
  uint64_t v = 1;
  asm volatile("xaddq %0, %1" : "+r"(v), "+m"(field));
  return v;
#else
  return std::atomic_ref<uint64_t>(field).fetch_add(1, std::memory_order_relaxed);
#endif
}

ShardRef shard_ref(Segment& seg, uint32_t i);

/// The row for `key` in the shard's table, claimed if new; nullptr when the table is full or
/// the page of the row could not be backed.
CounterRow* shard_row(const ShardRef& s, uint64_t key);

/// Slots past the owner's that signal handlers nesting in it may take: kept free and backed.
inline constexpr uint64_t kNestSlack = 16;

/// Backs the shard's event buffer up to `need` bytes (shard_reserve's slow path).
bool shard_back_events(const ShardRef& s, uint64_t need);

/// The next event slot and its index; nullptr when the buffer is full, the log is off or the
/// buffer could not grow (the event is counted as dropped). Inline: every logged call runs it.
inline EventRecord* shard_reserve(const ShardRef& s, uint64_t* index) {
  ShardHeader& h = *s.h;
  const uint64_t drained = at(h.drained).load(std::memory_order_acquire);
  if (!s.events || h.head - drained >= s.events_mask + 1 - kNestSlack) {
    local_add(h.dropped, 1);
    return nullptr;
  }
  // Slots up to head + kNestSlack must be backed: signal handlers that nest before the xadd
  // below take the slots after this one, and each checks for itself.
  const uint64_t need = (h.head + kNestSlack + 1) * sizeof(EventRecord);
  if (need > at(*s.events_backed).load(std::memory_order_acquire) && !shard_back_events(s, need)) {
    local_add(h.dropped, 1);
    return nullptr;
  }
  *index = local_fetch_inc(h.head);
  return &s.events[*index & s.events_mask];
}

/// Publishes a record filled after shard_reserve.
inline void shard_commit(EventRecord* r, uint64_t index) {
  std::atomic_ref<uint32_t>(r->commit).store(static_cast<uint32_t>(index + 1),
                                             std::memory_order_release);
}

/// The owner's drain of its shard; a no-op while another drains.
void shard_owner_drain(Segment& seg, const ShardRef& s, uint32_t tid);

/// The owner's drain, when at least half the buffer waits.
inline void shard_maybe_drain(Segment& seg, const ShardRef& s, uint64_t index, uint32_t tid) {
  if (index + 1 - at(s.h->drained).load(std::memory_order_relaxed) < (s.events_mask + 1) / 2)
    return;
  shard_owner_drain(seg, s, tid);
}

/// Drains shard i: everything committed, up to the first slot that is not. `wait`: for a
/// drainer already at work (the final drain). False when not everything up to head was written.
bool shard_drain(Segment& seg, uint32_t i, uint32_t tid, bool wait);

/// Turns every reserved slot of the shard that is not committed into a tombstone. Only for its
/// owner, when no frame of that thread can still fill one.
void shard_tombstone_open(const ShardRef& s);

/// Appends one record straight to the .vev file, as a block of its own (after the image's
/// final drain, or for a thread without a shard). Counts it as dropped if it cannot.
void append_direct(Segment& seg, const EventRecord& r);

/// Writes iov[0, n) to the .vev file with one writev (finishing a short write).
bool append_events(Segment& seg, const struct iovec* iov, int n);

} // namespace valley::shim
