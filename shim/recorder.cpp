// SPDX-License-Identifier: MIT
#include "recorder.h"

#include "clock.h"
#include "coalesce.h"
#include "counter_ops.h"
#include "diag.h"
#include "fd_table.h"
#include "hot.h"
#include "jump.h"
#include "modules.h"
#include "options.h"
#include "owner_lock.h"
#include "real.h"
#include "ring.h"
#include "segment.h"
#include "sites.h"
#include "sys.h"

#include <atomic>
#include <cerrno>
#include <pthread.h>
#include <sys/auxv.h>
#include <sys/single_threaded.h>
#include <unistd.h>

namespace valley::shim {

namespace {

enum Phase : int {
  kUninit,   // nothing done yet
  kIniting,  // one thread is setting up; others pass through unrecorded
  kActive,   // recording
  kOff,      // disabled (option, error, secure execution): pure pass-through
  kFinished, // the final drain is done: counters still count, events go straight to the file
};
// g_opts is 4 KiB with its hot fields first. GCC 12 lays out a file's variables in reverse
// order of definition, so defined first it ends the hot section and its cold tail stays off
// the page of the others (only a matter of speed if a compiler does otherwise).
VALLEY_HOT_DATA constinit Options g_opts{};
VALLEY_HOT_DATA constinit std::atomic<int> g_phase{kUninit};
VALLEY_HOT_DATA constinit Segment g_seg{};

constexpr uint32_t kExecEnvMax = 16;
char g_exec_env[kExecEnvMax][1200]; // LD_PRELOAD=… and VALLEY_*=… as they were at start
uint32_t g_exec_env_count = 0;

// Per-thread state. initial-exec TLS: no __tls_get_addr, no allocation on first touch.
struct Tls {
  uint32_t tid;
  uint32_t busy;      // >0 while this thread is inside valley; a nested call is a signal handler
  uintptr_t outer_sp; // stack pointer of the outermost call inside valley (jump.h)
  uint32_t countdown; // calls until the next stack sample
  uint64_t last_ra;   // one-entry caches for a tight loop at one site
  uint32_t last_site;
  uint64_t last_key;
  CounterRow* last_row;
  uint64_t run_next; // ring index + 1 of this thread's latest absorbed-call record; 0: none
};
constinit thread_local Tls t_tls __attribute__((tls_model("initial-exec"))){};

// The count of calls inside valley, with the outermost one's stack pointer (jump.h).
inline void enter_valley(Tls& t, uintptr_t sp) {
  enter_marked(t.outer_sp, sp, [&] { ++t.busy; });
}

inline void leave_valley(Tls& t) {
  leave_marked(t.outer_sp, [&] { return --t.busy; });
}

uint32_t sat32(uint64_t v) { return v > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(v); }

uint64_t mix(uint64_t k) {
  k ^= k >> 31;
  k *= 0x9E3779B97F4A7C15ULL;
  return k ^ (k >> 29);
}

// Row 0 is the catch-all: counters never lose a call, even with a full table.
VALLEY_HOT CounterRow* counter_row(Segment& seg, uint64_t key) {
  uint32_t i = static_cast<uint32_t>(mix(key)) & seg.counters_mask;
  for (uint32_t n = 0; n < 64; ++n, i = (i + 1) & seg.counters_mask) {
    if (i == 0) continue;
    CounterRow& r = seg.counters[i];
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

VALLEY_HOT void count(bool one, CounterRow* row, uint64_t requested, uint64_t transferred,
                      ssize_t result, uint64_t ticks, uint64_t gap, uint32_t file) {
  add_as(one, row->calls, 1);
  if (result < 0) add_as(one, row->errors, 1);
  else if (result == 0) add_as(one, row->zero_results, 1);
  if (transferred) add_as(one, row->bytes, transferred);
  add_as(one, row->requested, requested);
  if (ticks) add_as(one, row->ticks, ticks);
  add_as(one, row->size_hist[bucket_of(requested)], 1);
  add_as(one, row->gap_hist[bucket_of(gap)], 1);
  if (file && row->last_file != file) at(row->last_file).store(file, std::memory_order_relaxed);
}

void save_exec_env() {
  for (char** e = environ; e && *e && g_exec_env_count < kExecEnvMax; ++e) {
    if (!starts_with(*e, "LD_PRELOAD=") && !starts_with(*e, "VALLEY_")) continue;
    if (str_len(*e) >= sizeof g_exec_env[0]) continue;
    str_copy(g_exec_env[g_exec_env_count++], *e, sizeof g_exec_env[0]);
  }
}

void atfork_child();

// Threads that made calls learn of their own end through a key destructor: their buffered
// bytes go out and their kernel counts are kept (coverage, B-18.6). The main thread stays
// listed in /proc/self/task until the process ends, so it needs neither.
constinit pthread_key_t g_thread_key = 0;
constinit bool g_thread_key_ok = false;

// Also once the image is finishing: a thread that ends between the final flush and the final
// count (the flusher, which stops at the final flush) would otherwise be in neither.
void thread_ending(void*) {
  const int saved = errno;
  coalesce_thread_exiting();
  const int phase = g_phase.load(std::memory_order_acquire);
  if ((phase == kActive || phase == kFinished) && g_seg.hdr &&
      static_cast<uint32_t>(sys::getpid()) == g_seg.hdr->pid)
    segment_thread_exited(static_cast<uint32_t>(sys::gettid()));
  errno = saved;
}

VALLEY_COLD void first_call_of_thread(Tls& t) {
  t.tid = static_cast<uint32_t>(sys::gettid());
  if (g_thread_key_ok && t.tid != static_cast<uint32_t>(sys::getpid()))
    pthread_setspecific(g_thread_key, reinterpret_cast<void*>(1));
}

bool same_name(const char* entry, const char* want, size_t name_len) {
  for (size_t k = 0; k < name_len; ++k)
    if (entry[k] != want[k]) return false;
  return entry[name_len] == '=';
}

// Only what the kernel's syscr/syscw count is comparable: the read and write families.
// Socket calls (send*, recv*) move data through their own paths, which those counters skip.
bool counted_by_kernel(Op op) {
  switch (op) {
  case Op::send: case Op::sendto: case Op::sendmsg: case Op::sendmmsg: case Op::recv:
  case Op::recvfrom: case Op::recvmsg: case Op::recvmmsg: case Op::recv_chk:
  case Op::recvfrom_chk:
    return false;
  default:
    return true;
  }
}

void summarize_coverage(Segment& seg) {
  Coverage& c = seg.hdr->coverage;
  // Calls the coalescer absorbed made no syscall; its flushes (counted like any write) did.
  const CoalesceStats cs = coalesce_stats();
  c.seen_reads = c.seen_writes = c.seen_rbytes = c.seen_wbytes = 0;
  for (uint32_t i = 1; i < seg.hdr->counters.capacity; ++i) {
    const CounterRow& r = seg.counters[i];
    if (!r.key || !counted_by_kernel(key_op(r.key))) continue;
    const bool out = op_is_output(key_op(r.key));
    (out ? c.seen_writes : c.seen_reads) += r.calls;
    (out ? c.seen_wbytes : c.seen_rbytes) += r.bytes;
  }
  c.seen_writes -= cs.absorbed_calls < c.seen_writes ? cs.absorbed_calls : c.seen_writes;
  c.seen_wbytes -= cs.absorbed_bytes < c.seen_wbytes ? cs.absorbed_bytes : c.seen_wbytes;
}

// False in a child that no fork handler reached (vfork, _Fork, raw fork or clone): it shares
// or copies this process's memory without being the traced process.
bool traced_process() { return static_cast<uint32_t>(sys::getpid()) == g_seg.hdr->pid; }

// Ends the image's trace; `exec` keeps the ring restorable. Returns false when nothing was done.
bool finish(uint32_t state_bit) {
  int expected = kActive;
  if (g_phase.load(std::memory_order_acquire) != kActive) return false;
  if (!traced_process()) return false; // such a child leaves the parent's trace alone
  if (!g_phase.compare_exchange_strong(expected, kFinished)) return false;
  const bool drained = ring_drain_all(g_seg);
  segment_record_end(&g_seg);
  summarize_coverage(g_seg);
  at(g_seg.hdr->state).fetch_or(state_bit, std::memory_order_release);
  if (drained) segment_release_ring(&g_seg);
  return true;
}

} // namespace

void init() {
  int expected = kUninit;
  if (!g_phase.compare_exchange_strong(expected, kIniting)) return;
  int saved = errno;
  int next = kOff;
  real::ready();
  clock::init();
  owner::init();
  // Secure execution (setuid, capabilities): never act on VALLEY_* settings there.
  if (getauxval(AT_SECURE) == 0 && read_options(environ, &g_opts) && !g_opts.off) {
    g_thread_key_ok = pthread_key_create(&g_thread_key, thread_ending) == 0;
    segment_note_io_start();
    if (segment_create(g_opts, Origin::start, nullptr, &g_seg)) {
      modules_refresh(g_seg);
      save_exec_env();
      pthread_atfork(coalesce_fork_prepare, coalesce_fork_parent, atfork_child);
      if (g_opts.verbose) diag("tracing into ", g_seg.seg_path);
      g_coalesce = g_opts.coalesce;
      next = kActive;
    }
  }
  g_phase.store(next, std::memory_order_release);
  if (next == kActive) coalesce_start();
  errno = saved;
}

namespace {

struct Call {
  Op op;
  int fd;
  uint64_t requested, transferred;
  int64_t offset;
  ssize_t result;
  int err; // errno when result < 0
  uint64_t t0, t1;
  uint64_t ra;   // return address, or 0 when `site` is given
  uint32_t site; // used when ra == 0
  uint8_t flags;
};

// A loop of identical absorbed writes extends the record of the run's first call instead of
// adding one record per call: 48 bytes of trace would cost more than the write the coalescer
// saved. Safe without atomics: the caller holds the owner's window, so any other thread that
// drains or reserves has excluded it first; and the record must be the ring's newest and
// undrained, so no drain has copied it and no other record falls inside the run.
VALLEY_HOT bool extend_run(Segment& seg, uint64_t run_next, uint32_t site, FdKind kind,
                           const Call& c) {
  if (run_next == 0) return false;
  const uint64_t i = run_next - 1;
  SegmentHeader* h = seg.hdr;
  if (at(h->ring_head).load(std::memory_order_relaxed) != run_next ||
      at(h->ring_drained).load(std::memory_order_acquire) > i)
    return false;
  EventRecord& r = seg.ring[i & seg.ring_mask];
  if (r.commit != static_cast<uint32_t>(run_next) || r.site != site || r.fd != c.fd ||
      r.op != static_cast<uint8_t>(c.op) || r.fd_kind != static_cast<uint8_t>(kind) ||
      r.size != sat32(c.requested) || c.result < 0 || r.result != c.result ||
      (r.flags & ~kEventRun) != kEventCoalesced || r.duration == 0xffffffffu)
    return false;
  // A reader of a crashed segment may look at any moment: the count and the last time are
  // right before the flag says the record is a run.
  const uint32_t calls = (r.flags & kEventRun) ? r.duration + 1 : 2;
  r.offset = static_cast<int64_t>(c.t0);
  r.duration = calls;
  std::atomic_thread_fence(std::memory_order_release); // no instruction on x86
  r.flags |= kEventRun;
  return true;
}

// Counts and logs one call. The caller has checked the phase and restores errno. Inlined so
// that the Call fields stay in registers on the hot path.
__attribute__((always_inline)) inline void record_call(int phase, const Call& c) {
  Tls& t = t_tls;
  const bool nested = t.busy != 0;
  const uintptr_t sp = nested ? 0 : stack_pointer();
  enter_valley(t, sp);
  if (!t.tid) first_call_of_thread(t);
  // Inside the owner's window (or as the only thread), counters and the ring head take plain
  // instructions.
  const bool entered = owner::enter();
  const bool plain = entered || __libc_single_threaded;
  Segment& seg = g_seg;

  const FdInfo fi = fd_lookup(seg, c.fd, c.t0);
  uint32_t site = c.site;
  if (c.ra == 0) {
  } else if (c.ra == t.last_ra && !nested) {
    site = t.last_site;
  } else {
    site = site_lookup(seg, c.ra, nested, g_opts.max_frames);
    // Only a plain (unsplit) site may be cached by return address alone.
    const bool plain = site != kSiteUnknown && seg.sites[site].key == c.ra &&
                       (at(seg.sites[site].flags).load(std::memory_order_relaxed) & kSiteReady) &&
                       !(seg.sites[site].flags & kSiteMarker);
    if (plain && !nested) {
      t.last_ra = c.ra;
      t.last_site = site;
    }
  }
  const uint64_t key = counter_key(site, c.op, fi.kind);
  CounterRow* row;
  if (key == t.last_key && !nested) {
    row = t.last_row;
  } else {
    row = counter_row(seg, key);
    if (!nested) {
      t.last_key = key;
      t.last_row = row;
    }
  }
  count(plain, row, c.requested, c.transferred, c.result, c.t1 - c.t0,
        fi.prev_ticks ? c.t0 - fi.prev_ticks : 0, fi.file);

  if (g_opts.stack_sample && !nested && c.ra) {
    if (t.countdown == 0) t.countdown = g_opts.stack_sample;
    if (--t.countdown == 0) site_sample(seg, site, g_opts.max_frames);
  }

  // Absorbed calls may join a run (kEventRun) only inside the owner's window: see extend_run.
  const bool runnable = c.flags == kEventCoalesced && entered && !nested && phase == kActive;
  if (seg.ring_mask && runnable && extend_run(seg, t.run_next, site, fi.kind, c)) {
  } else if (seg.ring_mask) {
    EventRecord tmp;
    uint64_t index = 0;
    EventRecord* r = phase == kActive ? ring_reserve(seg, &index, plain) : &tmp;
    if (!r && !nested) t.run_next = 0; // a dropped call lies between: no run across it
    if (r) {
      r->tid = t.tid;
      r->ticks = c.t0;
      r->result = c.result < 0 ? -c.err
                               : static_cast<int32_t>(c.result > 0x7fffffff ? 0x7fffffff : c.result);
      r->offset = c.offset;
      r->size = sat32(c.requested);
      r->duration = sat32(c.t1 - c.t0);
      r->fd = c.fd;
      r->site = site;
      r->op = static_cast<uint8_t>(c.op);
      r->fd_kind = static_cast<uint8_t>(fi.kind);
      r->flags = static_cast<uint8_t>((nested ? kEventNested : 0) |
                                      (phase == kFinished ? kEventLate : 0) | c.flags);
      r->reserved = 0;
      if (phase == kActive) {
        ring_commit(r, index);
        if (!nested) t.run_next = runnable ? index + 1 : 0;
        ring_maybe_drain(seg, index);
      } else {
        r->commit = 0;
        ring_append_late(seg, *r);
      }
    }
  }
  if (entered) owner::leave();
  leave_valley(t);
}

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

} // namespace

VALLEY_HOT ssize_t io_done(Op op, int fd, uint64_t requested, uint64_t transferred, int64_t offset,
                           ssize_t result, uint64_t t0, uint64_t ra, uint8_t flags) {
  const uint64_t t1 = clock::ticks();
  const int err = errno;
  const int phase = recording_phase();
  if (phase >= 0)
    record_call(phase, {op, fd, requested, transferred, offset, result, err, t0, t1, ra, 0, flags});
  errno = err;
  return result;
}

void record_flush(Op op, int fd, uint64_t requested, uint64_t written, int err, uint64_t t0, uint64_t t1) {
  const int saved = errno;
  const int phase = recording_phase();
  if (phase >= 0)
    record_call(phase, {op, fd, requested, written, -1,
                        err ? -1 : static_cast<ssize_t>(written), err, t0, t1, 0, kSiteFlush,
                        kEventFlush});
  errno = saved;
}

VALLEY_HOT ssize_t io_absorbed(Op op, int fd, uint64_t requested, ssize_t result, uint64_t t0,
                               uint64_t ra) {
  const int err = errno;
  const int phase = recording_phase();
  if (phase >= 0)
    record_call(phase, {op, fd, requested, result > 0 ? static_cast<uint64_t>(result) : 0, -1,
                        result, err, t0, t0, ra, 0, result < 0 ? uint8_t{0} : uint8_t{kEventCoalesced}});
  errno = err;
  return result;
}

bool fd_coalescible(int fd, uint64_t ra, uint64_t now, FdKind* kind) {
  if (g_phase.load(std::memory_order_acquire) != kActive) return false;
  Tls& t = t_tls;
  if (t.busy) return false; // a signal handler inside valley: write through
  enter_valley(t, stack_pointer());
  const FdInfo fi = fd_peek(g_seg, fd, now);
  bool ok = fi.coalescible;
  if (ok && g_coalesce.sites[0]) ok = site_allows_coalescing(g_seg, ra, g_coalesce.sites, g_opts.max_frames);
  leave_valley(t);
  *kind = fi.kind;
  return ok;
}

namespace {
// The fd number now names another file (or none): what was known about it no longer holds.
void fd_renamed(int fd) {
  fd_forget(fd);
  note_stdio_fd(fd, false);
  coalesce_forget_fd(fd);
}
} // namespace

int fd_created(int fd) {
  if (fd >= 0) fd_renamed(fd);
  return fd;
}

int fd_pair_created(int r, const int* fds) {
  if (r == 0) {
    fd_renamed(fds[0]);
    fd_renamed(fds[1]);
  }
  return r;
}

int fd_closed(int fd, int r) {
  // Linux releases the fd even when close fails with EINTR or EIO.
  fd_renamed(fd);
  return r;
}

void fd_flags_changed(int fd) { fd_forget(fd); }

void fd_given_to_stdio(int fd) {
  note_stdio_fd(fd, true);
  fd_forget(fd);
}

int fd_range_closed(unsigned lo, unsigned hi, int flags, int r) {
  if (r == 0 && !(flags & 4 /* CLOSE_RANGE_CLOEXEC: nothing is closed */))
    fd_forget_range(lo, hi);
  return r;
}

void long_jump(uintptr_t here, uintptr_t target) {
  Tls& t = t_tls;
  if (t.busy && left_behind(t.outer_sp, here, target)) {
    // The abandoned call may have been between the halves of a cache pair, or reserving
    // the run's next record: start those afresh.
    t.last_ra = 0;
    t.last_key = 0;
    t.last_row = nullptr;
    t.run_next = 0;
    t.outer_sp = 0;
    t.busy = 0;
  }
  owner::jumped(here, target);
}

void image_ending(bool destructor) {
  int saved = errno;
  if (g_phase.load(std::memory_order_acquire) == kActive) {
    if (traced_process())
      coalesce_final(destructor); // before the final drain, so the flush is in the trace
    else if (sys::shares_parent_memory())
      coalesce_flush_ending(); // a vfork child: what it wrote is in the parent's buffer, due now
    // (a child of _Fork or a raw fork has a copy of the parent's bytes: not its to write)
  }
  finish(kStateFinished);
  errno = saved;
}

void exec_starting() {
  int saved = errno;
  // Not in a child with a copy of the parent's buffer (raw fork, clone): those bytes are the
  // parent's to write. A vfork child shares the buffer and flushes it.
  if (g_pending.load(std::memory_order_acquire) &&
      (!g_seg.hdr || traced_process() || sys::shares_parent_memory()))
    coalesce_flush_ending();
  finish(kStateExec);
  errno = saved;
}

void exec_failed() {
  int saved = errno;
  if (g_phase.load(std::memory_order_acquire) == kFinished &&
      traced_process() &&
      (at(g_seg.hdr->state).load(std::memory_order_acquire) & kStateExec)) {
    at(g_seg.hdr->state).fetch_and(~uint32_t{kStateExec}, std::memory_order_release);
    // The image goes on: back to recording into the ring (or, if its storage cannot be had
    // again, on the slower direct-append path).
    if (segment_restore_ring(&g_seg)) g_phase.store(kActive, std::memory_order_release);
  }
  errno = saved;
}

char* const* exec_env(char* const* env, char** out, size_t cap) {
  if (g_exec_env_count == 0 || !env) return env;
  size_t n = 0;
  while (env[n]) ++n;
  size_t added = 0;
  for (uint32_t i = 0; i < g_exec_env_count; ++i) {
    const char* want = g_exec_env[i];
    size_t name_len = 0;
    while (want[name_len] != '=') ++name_len;
    bool present = false;
    for (size_t j = 0; j < n && !present; ++j) present = same_name(env[j], want, name_len);
    if (present) continue;
    if (n + added + 1 >= cap) return env; // too large to extend safely: leave it as it is
    out[n + added++] = g_exec_env[i];
  }
  if (added == 0) return env;
  for (size_t j = 0; j < n; ++j) out[j] = env[j];
  out[n + added] = nullptr;
  return out;
}

namespace {

void atfork_child() {
  owner::after_fork_child();
  coalesce_fork_child();
  if (g_phase.load(std::memory_order_acquire) != kActive) return;
  // Only the forking thread lives on in the child; its caches name the parent's rows. It is the
  // child's main thread now.
  t_tls = Tls{};
  if (g_thread_key_ok) pthread_setspecific(g_thread_key, nullptr);
  ring_reset_after_fork();
  fd_table_new_generation();
  site_table_reset_after_fork();
  sys::reset_own_io();
  segment_note_io_start();
  Segment parent = g_seg;
  Segment child{};
  if (segment_create(g_opts, Origin::fork, parent.hdr, &child)) {
    g_seg = child;
  } else {
    g_phase.store(kOff, std::memory_order_release);
  }
  // The parent's mapping stays with the parent: the child must never write into it.
  segment_unmap(&parent);
  if (g_phase.load(std::memory_order_relaxed) == kOff) g_seg.hdr = nullptr;
}


} // namespace

} // namespace valley::shim
