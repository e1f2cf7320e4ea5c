// SPDX-License-Identifier: MIT
/// @file ring.h
/// @brief The event ring in the segment: many producers, drained into the .vev file by
/// whichever producer finds it half full. The producer never blocks and never allocates.
///
/// Protocol (all on SegmentHeader fields, ring index i lives in slot i & mask):
///   producer: CAS ring_head h → h+1 only while h - ring_drained < capacity (else count a drop);
///             fill the slot; store commit = (uint32_t)(h+1) with release  [pairs with ①]
///   drainer:  holds the process-local drain flag (try-lock: never waits);
///             ① loads commit with acquire for slots from ring_drained up, copies the committed
///             prefix to the .vev file, then stores ring_drained with release  [pairs with ②]
///   producer: ② loads ring_drained with acquire before reusing a slot.
/// A slot reserved but never committed (its writer died between reserve and commit) stops the
/// drain; after kTornTimeoutNs it is skipped and counted in events_torn.
#pragma once

#include "segment.h"

namespace valley::shim {

/// Returns the slot for a new record and its ring index, or nullptr when the ring is full
/// (the drop is counted). `plain`: no other thread reserves meanwhile (counter_ops.h).
EventRecord* ring_reserve(Segment& seg, uint64_t* index, bool plain);

/// Publishes a record filled after ring_reserve.
inline void ring_commit(EventRecord* r, uint64_t index) {
  std::atomic_ref<uint32_t>(r->commit).store(static_cast<uint32_t>(index + 1),
                                             std::memory_order_release);
}

/// Drains when at least half the ring waits; a no-op while another thread drains.
void ring_maybe_drain(Segment& seg, uint64_t index);

/// Drains everything committed now (exit, exec). Returns false if the .vev file is unwritable.
bool ring_drain_all(Segment& seg);

/// After the final drain: appends one record straight to the .vev file.
void ring_append_late(Segment& seg, const EventRecord& r);

/// A fork child starts with no drain in progress.
void ring_reset_after_fork();

} // namespace valley::shim
