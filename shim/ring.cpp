// SPDX-License-Identifier: MIT
#include "ring.h"

#include "clock.h"
#include "counter_ops.h"
#include "diag.h"
#include "hot.h"
#include "sys.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

namespace valley::shim {
namespace {

constexpr uint64_t kTornTimeoutNs = 1000000000; // a writer stalled 1 s between reserve and commit
constexpr uint64_t kNestSlack = 16; // slots kept free for signal handlers nesting in a producer

constinit std::atomic<bool> g_draining{false};
// The slot the drain last stopped at, and since when: a slot stuck that long is torn.
constinit uint64_t g_stuck_index = ~uint64_t{0};
uint64_t g_stuck_since_ns = 0;

// The .vev file is opened per drain, so valley never holds an fd the program could close,
// reuse or count.
bool append(Segment& seg, const iovec* iov, int n) {
  int fd = sys::open(seg.ev_path, O_WRONLY | O_APPEND);
  if (fd < 0) return false;
  size_t total = 0;
  for (int i = 0; i < n; ++i) total += iov[i].iov_len;
  ssize_t w = ::syscall(SYS_writev, fd, iov, n);
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

// Drains committed records in [drained, head). Caller holds g_draining.
bool drain_locked(Segment& seg) {
  SegmentHeader* h = seg.hdr;
  const uint64_t cap = seg.ring_mask + 1;
  bool ok = true;
  for (;;) {
    const uint64_t from = at(h->ring_drained).load(std::memory_order_relaxed);
    const uint64_t head = at(h->ring_head).load(std::memory_order_acquire);
    uint64_t to = from;
    while (to < head &&
           at(seg.ring[to & seg.ring_mask].commit).load(std::memory_order_acquire) ==
               static_cast<uint32_t>(to + 1))
      ++to;
    if (to == from) {
      if (from == head) return ok;
      // Uncommitted slot at the front: wait for its writer, unless it has been gone too long.
      const uint64_t now = clock::monotonic_ns();
      if (g_stuck_index != from) {
        g_stuck_index = from;
        g_stuck_since_ns = now;
        return ok;
      }
      if (now - g_stuck_since_ns < kTornTimeoutNs) return ok;
      at(h->events_torn).fetch_add(1, std::memory_order_relaxed);
      at(h->ring_drained).store(from + 1, std::memory_order_release);
      continue;
    }
    iovec iov[2];
    int n = 0;
    const uint64_t a = from & seg.ring_mask;
    const uint64_t count = to - from;
    const uint64_t first = count < cap - a ? count : cap - a;
    iov[n++] = {&seg.ring[a], first * sizeof(EventRecord)};
    if (first < count) iov[n++] = {&seg.ring[0], (count - first) * sizeof(EventRecord)};
    if (!append(seg, iov, n)) {
      // The records cannot be kept; say so once and count them as dropped, so the ring
      // keeps moving and the program is never held up.
      if (ok) diag("warning: cannot write ", seg.ev_path, "; events dropped");
      at(h->events_dropped).fetch_add(count, std::memory_order_relaxed);
      ok = false;
    }
    at(h->ring_drained).store(to, std::memory_order_release);
    segment_calibrate(&seg);
  }
}

} // namespace

VALLEY_HOT EventRecord* ring_reserve(Segment& seg, uint64_t* index, bool plain) {
  SegmentHeader* h = seg.hdr;
  const uint64_t cap = seg.ring_mask + 1;
  if (plain) {
    // No other thread reserves now: only a signal handler can interleave, and it can only
    // nest (reserve and commit before we go on). A single-instruction fetch_inc keeps slots
    // distinct; the kNestSlack spare slots keep a nested reservation from reaching an
    // undrained one.
    const uint64_t drained = at(h->ring_drained).load(std::memory_order_acquire);
    if (seg.ring_mask == 0 || at(h->ring_head).load(std::memory_order_relaxed) - drained >= cap - kNestSlack) {
      add_as(true, h->events_dropped, 1);
      return nullptr;
    }
    *index = fetch_inc(true, h->ring_head);
    return &seg.ring[*index & seg.ring_mask];
  }
  uint64_t head = at(h->ring_head).load(std::memory_order_relaxed);
  for (;;) {
    const uint64_t drained = at(h->ring_drained).load(std::memory_order_acquire);
    if (seg.ring_mask == 0 || head - drained >= cap - kNestSlack) {
      at(h->events_dropped).fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    if (at(h->ring_head).compare_exchange_weak(head, head + 1, std::memory_order_relaxed))
      break;
  }
  *index = head;
  return &seg.ring[head & seg.ring_mask];
}

VALLEY_HOT void ring_maybe_drain(Segment& seg, uint64_t index) {
  const uint64_t drained = at(seg.hdr->ring_drained).load(std::memory_order_relaxed);
  if (index + 1 - drained < (seg.ring_mask + 1) / 2) return;
  if (g_draining.exchange(true, std::memory_order_acquire)) return;
  drain_locked(seg);
  g_draining.store(false, std::memory_order_release);
}

bool ring_drain_all(Segment& seg) {
  if (seg.ring_mask == 0) return true;
  // Another thread may be mid-drain. Two drains at once would write records twice, so wait
  // a little for it and otherwise leave the rest in the ring, where readers find it too.
  int tries = 0;
  while (g_draining.exchange(true, std::memory_order_acquire)) {
    if (++tries > 1000) return false;
    sched_yield();
  }
  bool ok = drain_locked(seg) &&
            at(seg.hdr->ring_drained).load(std::memory_order_relaxed) ==
                at(seg.hdr->ring_head).load(std::memory_order_relaxed);
  g_draining.store(false, std::memory_order_release);
  return ok;
}

void ring_append_late(Segment& seg, const EventRecord& r) {
  iovec iov{const_cast<EventRecord*>(&r), sizeof r};
  if (append(seg, &iov, 1)) at(seg.hdr->events_late).fetch_add(1, std::memory_order_relaxed);
  else at(seg.hdr->events_dropped).fetch_add(1, std::memory_order_relaxed);
}

void ring_reset_after_fork() {
  g_draining.store(false, std::memory_order_relaxed);
  g_stuck_index = ~uint64_t{0};
}

} // namespace valley::shim
