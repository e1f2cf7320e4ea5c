// SPDX-License-Identifier: MIT
/// @file recorder.cpp
/// @brief The per-call path: the call's fd and site, its counters into this thread's shard and
/// its event to the event log (event_log.cpp), all with errno as the real call left it; and the
/// coalescer's absorbed writes, counted and logged the same way.
#include "recorder.h"

#include "clock.h"
#include "coalesce/coalesce.h"
#include "fd_table.h"
#include "hot.h"
#include "python/call_site.h"
#include "python/mem.h"
#include "python/runtime.h"
#include "recorder_internal.h"
#include "sites.h"
#include "sys.h"

#include <cerrno>

namespace valley::shim {

namespace {

// Set by offer_output when the coalescer let the write go around, taken by the io_done of the
// same call (the hook makes the real call in between).
constinit thread_local uint8_t t_straight_note __attribute__((tls_model("initial-exec"))) = 0;

uint64_t mix(uint64_t k) {
  k ^= k >> 31;
  k *= 0x9E3779B97F4A7C15ULL;
  return k ^ (k >> 29);
}

// The shared table, for threads without a shard and keys a full shard cannot hold. Row 0 is
// the catch-all: counters never lose a call, even with a full table.
VALLEY_COLD CounterRow* shared_row(Segment& seg, uint64_t key) {
  uint32_t i = static_cast<uint32_t>(mix(key)) & seg.counters_mask;
  for (uint32_t n = 0; n < 64; ++n, i = (i + 1) & seg.counters_mask) {
    if (i == 0) continue;
    CounterRow& r = seg.counters[i];
    if (!segment_ensure(seg, &r, sizeof r)) break; // to the catch-all row, backed from the start
    uint64_t k = at(r.key).load(std::memory_order_acquire);
    if (k == key) return &r;
    if (k != 0) continue;
    if (at(r.key).compare_exchange_strong(k, key, std::memory_order_acq_rel)) {
      at(seg.hdr->counters_used).fetch_add(1, std::memory_order_relaxed);
      return &r;
    }
    if (k == key) return &r;
  }
  at(seg.hdr->state).fetch_or(kStateCountersFull, std::memory_order_relaxed);
  return &seg.counters[0];
}

struct Counts {
  uint64_t requested, transferred, ticks, gap;
  ssize_t result;
  uint32_t file;
};

// One body, two ways to add: a shard's rows with single non-locked instructions, the shared
// table's with locked ones.
template <class Add> inline void count(CounterRow* row, const Counts& c, Add add) {
  add(row->calls, 1);
  if (c.result < 0) add(row->errors, 1);
  else if (c.result == 0) add(row->zero_results, 1);
  if (c.transferred) add(row->bytes, c.transferred);
  add(row->requested, c.requested);
  if (c.ticks) add(row->ticks, c.ticks);
  add(row->size_hist[bucket_of(c.requested)], 1);
  add(row->gap_hist[bucket_of(c.gap)], 1);
  if (c.file && row->last_file != c.file) at(row->last_file).store(c.file, std::memory_order_relaxed);
}

VALLEY_COLD void count_shared(Segment& seg, CounterRow* row, const Counts& c) {
  count(row, c, [](uint64_t& f, uint64_t v) { at(f).fetch_add(v, std::memory_order_relaxed); });
  at(seg.hdr->shared_calls).fetch_add(1, std::memory_order_relaxed);
}

// Fills one of the thread's one-entry caches (key → site). The key is cleared first and set
// last, so a signal handler between these stores finds no entry, never half of one.
__attribute__((always_inline)) inline void cache_site(uint64_t& key_slot, uint32_t& site_slot,
                                                      uint64_t key, uint32_t site) {
  key_slot = 0;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  site_slot = site;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  key_slot = key;
}

// The call site of `ra`: this thread's one-entry cache, else the site table.
VALLEY_HOT uint32_t site_of(Thread& t, Segment& seg, uint64_t ra, bool nested) {
  // Under a Python interpreter the same return address serves every line of Python code: the
  // running code object and instruction split it (issue 14). A signal handler keeps the
  // native site (nothing that could take a lock or take long runs there).
  if (py::active() && !nested) {
    if (const uint64_t key = py::call_key(t, ra)) {
      if (key == t.py_key) return t.py_site;
      const uint32_t site = python_site_lookup(seg, t, key, ra, g_opts.max_frames);
      if (site != kSiteUnknown) {
        cache_site(t.py_key, t.py_site, key, site);
        return site;
      }
    }
  }
  if (ra == t.last_ra && !nested) return t.last_site;
  const uint32_t site = site_lookup(seg, ra, nested, g_opts.max_frames);
  // Only a plain (unsplit) site may be cached by return address alone.
  const bool plain = site != kSiteUnknown && seg.sites[site].key == ra &&
                     (at(seg.sites[site].flags).load(std::memory_order_relaxed) & kSiteReady) &&
                     !(seg.sites[site].flags & kSiteMarker);
  if (plain && !nested) {
    cache_site(t.last_ra, t.last_site, ra, site);
  }
  return site;
}

// Adds one call to its counter row, with its gap since the thread's previous call on the fd.
__attribute__((always_inline)) inline void count_in(Segment& seg, Thread& t, bool nested,
                                                    CounterRow* row, bool shared, const Call& c,
                                                    const FdInfo& fi) {
  FdStamp& stamp = t.stamps[static_cast<uint32_t>(c.fd) % kFdStamps];
  const uint64_t gap =
      stamp.fd == c.fd && stamp.file == fi.file && stamp.ticks && c.t0 > stamp.ticks
          ? c.t0 - stamp.ticks
          : 0;
  const Counts counts{c.requested, c.transferred, c.t1 - c.t0, gap, c.result, fi.file};
  if (shared)
    count_shared(seg, row, counts);
  else
    count(row, counts, local_add);
  if (!nested) stamp = {c.fd, fi.file, c.t0};
}

// Every stack_sample-th call of the thread captures its site's stack again.
__attribute__((always_inline)) inline void sample_stack(Segment& seg, Thread& t, uint32_t site) {
  if (!g_opts.stack_sample) return;
  if (t.countdown == 0) t.countdown = g_opts.stack_sample;
  if (--t.countdown == 0) site_sample(seg, site, g_opts.max_frames);
}

// Counts and logs one call whose fd and site are known.
__attribute__((always_inline)) inline void count_and_log(int phase, Thread& t, bool nested,
                                                         const Call& c, const FdInfo& fi,
                                                         uint32_t site) {
  Segment& seg = g_seg;
  const uint64_t key = counter_key(site, c.op, fi.kind);
  CounterRow* row;
  bool shared;
  if (key == t.last_key && !nested) {
    row = t.last_row;
    shared = t.last_shared;
  } else {
    row = t.shard.h ? shard_row(t.shard, key) : nullptr;
    shared = row == nullptr;
    if (shared) row = shared_row(seg, key);
    if (!nested) {
      t.last_key = 0;
      std::atomic_signal_fence(std::memory_order_seq_cst);
      t.last_row = row;
      t.last_shared = shared;
      std::atomic_signal_fence(std::memory_order_seq_cst);
      t.last_key = key;
    }
  }
  count_in(seg, t, nested, row, shared, c, fi);

  if (!nested && c.ra) sample_stack(seg, t, site);
  log_event(seg, t, phase, nested, c, site, fi.kind);
}

// Counts and logs one call. The caller has checked the phase and restores errno. `inside`:
// the caller is a valley frame of this thread already (a flush the coalescer makes). Inlined so
// that the Call fields stay in registers on the hot path.
__attribute__((always_inline)) inline void record_call(int phase, const Call& c, bool inside) {
  Thread& t = t_thread;
  const bool nested = !inside && enter_valley(t);
  if (!t.tid) first_call_of_thread(t);
  Segment& seg = g_seg;
  // unlink, msync and a failed open name no fd: their kind is unknown, not a bad fd.
  const FdInfo fi = c.fd < 0 && !op_moves_data(c.op) ? FdInfo{FdKind::unknown, 0}
                                                       : fd_lookup(seg, c.fd, c.t0);
  const uint32_t site = c.ra ? site_of(t, seg, c.ra, nested) : c.site;
  count_and_log(phase, t, nested, c, fi, site);
  if (!nested && !inside) leave_valley(t);
}

} // namespace

// The phase to record in, starting tracing if this is the first call; -1: do not record.
VALLEY_HOT int recording_phase() {
  int phase = g_phase.load(std::memory_order_acquire);
  if (phase == kActive || phase == kFinished) return phase;
  if (phase == kUninit) { // a call before valley's constructor ran
    init();
    phase = g_phase.load(std::memory_order_acquire);
    if (phase == kActive) return phase;
  }
  return -1;
}

VALLEY_HOT ssize_t io_done(Op op, int fd, uint64_t requested, uint64_t transferred, int64_t offset,
                           ssize_t result, uint64_t t0, uint64_t ra, uint8_t flags) {
  const uint64_t t1 = clock::ticks();
  const int err = errno;
  const int phase = recording_phase();
  const uint8_t note = t_straight_note;
  t_straight_note = 0;
  if (phase >= 0)
    record_call(phase,
                {op, fd, requested, transferred, offset, result, err, t0, t1, ra, 0, flags, 0, note},
                false);
  errno = err;
  return result;
}

int path_done(Op op, const char* path, int result, uint64_t t0, uint64_t ra) {
  const uint64_t t1 = clock::ticks();
  const int err = errno;
  const int phase = recording_phase();
  if (phase >= 0) {
    // A failed call may not have read the path at all (I-20): through the kernel then.
    char copy[kPathMax];
    const char* name = result >= 0 || !path                                     ? path
                       : sys::copy_string_from_program(copy, path, sizeof copy) ? copy
                                                                                : nullptr;
    const uint32_t file = name ? path_row(g_seg, name, t0) : 0;
    record_call(phase, {op, -1, 0, 0, file, result, err, t0, t1, ra, 0, 0, 0, 0}, false);
  }
  errno = err;
  return result;
}

void record_flush(Op op, int fd, uint64_t requested, uint64_t written, int err, uint64_t t0, uint64_t t1,
                  int64_t note) {
  const int saved = errno;
  const int phase = recording_phase();
  // The coalescer flushes inside a frame of its thread (the flusher thread has none).
  if (phase >= 0)
    record_call(phase, {op, fd, requested, written, note, err ? -1 : static_cast<ssize_t>(written),
                        err, t0, t1, 0, kSiteFlush, kEventFlush, 0, 0},
                t_thread.busy != 0);
  errno = saved;
}

namespace {

// Every buffer the iovecs name, and for a vector op the program's iovec array itself (a
// write's one iovec is the hook's own), on pages the kernel could read (I-20).
VALLEY_HOT bool program_bytes_readable(Op op, const iovec* iov, int iovcnt) {
  if (iovcnt < 0 ||
      (op_is_vector(op) && !py::readable(reinterpret_cast<uintptr_t>(iov),
                                         sizeof(iovec) * static_cast<size_t>(iovcnt))))
    return false;
  for (int i = 0; i < iovcnt; ++i)
    if (!py::readable(reinterpret_cast<uintptr_t>(iov[i].iov_base), iov[i].iov_len)) return false;
  return true;
}

// The coalescer's loop: the site that wrote last into the buffer writes into it again. The
// fd's kind and file, the site and the counter row are the lane's (thread.h), not looked up
// again; the call is counted and logged as the full offer below would.
VALLEY_HOT bool absorb_again(Thread& t, Op op, int fd, const iovec* iov, int iovcnt, uint64_t ra,
                             uint64_t t0, ssize_t* result) {
  const Lane& l = t.lane;
  if (l.ra != ra || l.fd != fd || l.op != static_cast<uint8_t>(op) || fd_identity(fd) != l.fd_id)
    return false;
  // Under Python the same return address serves every Python line: the line must be the same.
  if (py::active() ? !l.py_key || py::call_key(t, ra) != l.py_key : l.py_key != 0) return false;
  uint64_t n = 0;
  for (int i = 0; i < iovcnt; ++i)
    n += iov[i].iov_len;
  if (n > 0x7fffffff ||
      !coalesce_append_again(fd, ra, l.site, l.gen, iov, iovcnt, n, op_kernel_writes(op)))
    return false;
  const int saved = errno; // a drain of the shard's events may write
  const FdInfo fi{static_cast<FdKind>(l.kind), l.file};
  const auto r = static_cast<ssize_t>(n);
  const Call c{op, fd, n, n, -1, r, 0, t0, t0, ra, 0, kEventCoalesced, l.gen, 0};
  Segment& seg = g_seg;
  count_in(seg, t, false, l.row, false, c, fi);
  sample_stack(seg, t, l.site);
  log_event(seg, t, kActive, false, c, l.site, fi.kind);
  errno = saved;
  *result = r;
  return true;
}

} // namespace

VALLEY_HOT bool offer_output(Op op, int fd, const iovec* iov, int iovcnt, uint64_t ra, uint64_t t0,
                             ssize_t* result) {
  if (recording_phase() != kActive) return false;
  // The coalescer would copy the bytes itself: the kernel must be able to read them, or the
  // real call is made and fails as it would (EFAULT), behind what the buffer holds for the fd
  // as any write the coalescer lets go around.
  if (!program_bytes_readable(op, iov, iovcnt)) {
    if (const int e = flush_before_write(fd)) {
      errno = e;
      *result = -1;
      return true;
    }
    return false;
  }
  Thread& t = t_thread;
  if (enter_valley(t)) return false; // a signal handler inside valley: around the buffer
  if (absorb_again(t, op, fd, iov, iovcnt, ra, t0, result)) {
    leave_valley(t);
    return true;
  }
  const int saved = errno;
  if (!t.tid) first_call_of_thread(t);
  Segment& seg = g_seg;
  // The fd is classified before the real call here: errno stays the program's (I-02).
  const FdInfo fi = fd_lookup(seg, fd, t0);
  const uint32_t site = site_of(t, seg, ra, false);
  uint64_t gen = 0;
  const Offer o = coalesce_offer(
      {fd, fi.kind, fi.file, site, ra, iov, iovcnt, op_kernel_writes(op)}, result, &gen);
  const int err = errno;
  if (o == Offer::around) t_straight_note = coalesce_last_straight();
  if (o != Offer::around) {
    uint64_t requested = 0;
    for (int i = 0; i < iovcnt; ++i)
      requested += iov[i].iov_len;
    const ssize_t r = *result;
    count_and_log(kActive, t, false,
                  {op, fd, requested, r > 0 ? static_cast<uint64_t>(r) : 0, -1, r, err, t0, t0, ra,
                   0, o == Offer::taken ? uint8_t{kEventCoalesced} : uint8_t{0}, gen, 0},
                  fi, site);
    // The next write from here may take the lane: a site counted in the thread's own shard,
    // under Python one whose Python line site_of just cached.
    const uint64_t fd_id = fd_identity(fd);
    const uint64_t py_key = py::active() && t.py_key && t.py_site == site ? t.py_key : 0;
    const bool lane = o == Offer::taken && fd_id && (py_key || !py::active()) && t.shard.h &&
                      !t.last_shared && t.last_key == counter_key(site, op, fi.kind);
    Lane next{};
    if (lane)
      next = {ra,
              gen,
              fd_id,
              py_key,
              fd,
              static_cast<uint8_t>(op),
              static_cast<uint8_t>(fi.kind),
              fi.file,
              site,
              t.last_row};
    t.lane = next;
  }
  leave_valley(t);
  errno = o == Offer::refused ? err : saved;
  return o != Offer::around;
}

// An fd valley never saw (opened inside libc, by fopen say) is classified before it is closed,
// so the close is recorded on the file it closed, with its path.
void fd_closing(int fd) {
  if (fd < 0) return;
  const int saved = errno;
  if (recording_phase() >= 0) fd_lookup(g_seg, fd, clock::ticks());
  errno = saved;
}

bool file_path(uint32_t file, char* out, size_t cap) {
  if (file == 0 || file > g_seg.hdr->files.capacity) return false;
  str_copy(out, g_seg.files[file - 1].path, cap);
  return true;
}

bool site_name(uint64_t ra, char* out, size_t cap) { return site_text(g_seg, ra, out, cap); }

void summarize_coverage(Segment& seg) {
  Coverage& c = seg.hdr->coverage;
  c.seen_reads = c.seen_writes = c.seen_rbytes = c.seen_wbytes = 0;
  auto add = [&](const CounterRow& r) {
    if (!r.key || r.key == kCatchAllKey) return; // the catch-all's op is unknown
    const Op op = key_op(r.key);
    if (op_kernel_reads(op)) {
      c.seen_reads += r.calls;
      c.seen_rbytes += r.bytes;
    }
    if (op_kernel_writes(op)) {
      c.seen_writes += r.calls;
      c.seen_wbytes += r.bytes;
    }
  };
  // Rows on pages never backed were never used, and must not be touched.
  for (uint32_t i = 1; i < seg.hdr->counters.capacity; ++i)
    if (segment_backed(seg, &seg.counters[i], sizeof(CounterRow))) add(seg.counters[i]);
  const uint32_t shards = at(seg.hdr->shards_used).load(std::memory_order_acquire);
  for (uint32_t s = 0; s < shards; ++s) {
    if (!(at(seg.shards[s].state).load(std::memory_order_acquire) & kShardReserved)) continue;
    const CounterRow* rows = seg.body_counters(s);
    for (uint32_t i = 0; i < seg.hdr->body_counters; ++i)
      if (segment_backed(seg, &rows[i], sizeof(CounterRow))) add(rows[i]);
  }
  // Calls the coalescer absorbed made no syscall; its flushes (counted like any write) did.
  // Taken after the rows: a call is counted absorbed before its row counts it.
  const CoalesceStats cs = coalesce_stats();
  c.seen_writes -= cs.absorbed_calls < c.seen_writes ? cs.absorbed_calls : c.seen_writes;
  c.seen_wbytes -= cs.absorbed_bytes < c.seen_wbytes ? cs.absorbed_bytes : c.seen_wbytes;
}

} // namespace valley::shim
