// SPDX-License-Identifier: MIT
/// @file image.cpp
/// @brief The life of a traced image and its threads: start, a thread's first and last call,
/// its shard, recovery after a longjmp, fork, exec, and the final drain.
#include "clock.h"
#include "coalesce/coalesce.h"
#include "coverage.h"
#include "diag.h"
#include "fd_table.h"
#include "hot.h"
#include "modules.h"
#include "python/runtime.h"
#include "real.h"
#include "recorder.h"
#include "recorder_internal.h"
#include "sites.h"
#include "sys.h"

#include <cerrno>
#include <fnmatch.h>
#include <pthread.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace valley::shim {

// g_opts is 4 KiB with its hot fields first. GCC 12 lays out a file's variables in reverse
// order of definition, so defined first it ends the hot section and its cold tail stays off
// the page of the others (only a matter of speed if a compiler does otherwise).
VALLEY_HOT_DATA constinit Options g_opts{};
VALLEY_HOT_DATA constinit std::atomic<int> g_phase{kUninit};
VALLEY_HOT_DATA constinit Segment g_seg{};

namespace {

constexpr uint32_t kExecEnvMax = 16;
char g_exec_env[kExecEnvMax][1200]; // LD_PRELOAD=… and VALLEY_*=… as they were at start
uint32_t g_exec_env_count = 0;

void save_exec_env() {
  for (char** e = environ; e && *e && g_exec_env_count < kExecEnvMax; ++e) {
    if (!starts_with(*e, "LD_PRELOAD=") && !starts_with(*e, "VALLEY_")) continue;
    if (str_len(*e) >= sizeof g_exec_env[0]) continue;
    str_copy(g_exec_env[g_exec_env_count++], *e, sizeof g_exec_env[0]);
  }
}

// VALLEY_ONLY: an executable it does not select stays untraced (no file, no hook does more than
// pass its call through) but still hands LD_PRELOAD and VALLEY_* to what it executes.
bool selected_out() {
  if (!g_opts.only[0]) return false;
  char exe[kPathMax + 16];
  const ssize_t n = sys::readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = '\0';
  const char* name = exe;
  bool path = false;
  for (const char* p = g_opts.only; *p; ++p)
    path |= *p == '/';
  if (!path)
    for (const char* p = exe; *p; ++p)
      if (*p == '/') name = p + 1;
  if (fnmatch(g_opts.only, name, 0) == 0) return false;
  save_exec_env();
  return true;
}

bool same_name(const char* entry, const char* want, size_t name_len) {
  for (size_t k = 0; k < name_len; ++k)
    if (entry[k] != want[k]) return false;
  return entry[name_len] == '=';
}

// Threads that made calls learn of their own end through a key destructor: their buffered
// bytes go out, their shard is drained and given back, and their kernel counts are kept
// (coverage, B-18.6). The main thread stays listed in /proc/self/task until the process
// ends, so it needs none.
constinit pthread_key_t g_thread_key = 0;
constinit bool g_thread_key_ok = false;

// Gives the thread's shard back, with nothing of it left in flight: no frame of the thread is
// inside valley any more.
void release_shard(Thread& t) {
  if (!t.shard.h) return;
  commit_held(t, g_phase.load(std::memory_order_acquire));
  shard_tombstone_open(t.shard);
  shard_drain(g_seg, t.shard.index, t.tid, true);
  at(t.shard.h->tid).store(0, std::memory_order_release);
  t.shard = ShardRef{};
}

// Also once the image is finishing: a thread that ends between the final flush and the final
// count (the flusher, which stops at the final flush) would otherwise be in neither.
void thread_ending(void*) {
  const int saved = errno;
  coalesce_thread_exiting();
  const int phase = g_phase.load(std::memory_order_acquire);
  if ((phase == kActive || phase == kFinished) && g_seg.hdr && traced_process()) {
    Thread& t = t_thread;
    release_shard(t);
    coverage_thread_exited(static_cast<uint32_t>(sys::gettid()));
  }
  errno = saved;
}

bool tid_alive(uint32_t tid) {
  return ::syscall(SYS_tgkill, sys::getpid(), tid, 0) == 0 || errno != ESRCH;
}

// Shard i is this thread's now: its body must exist, and a previous owner that died without
// its destructor (a raw exit) has left slots that nobody will fill.
bool take(Thread& t, uint32_t i, bool from_dead) {
  Segment& seg = g_seg;
  ShardHeader& h = seg.shards[i];
  if (!(at(h.state).load(std::memory_order_acquire) & kShardReserved)) {
    if (!segment_reserve_body(seg, i)) {
      at(h.tid).store(0, std::memory_order_release);
      return false;
    }
    at(h.state).fetch_or(kShardReserved, std::memory_order_release);
    uint32_t used = at(seg.hdr->shards_used).load(std::memory_order_relaxed);
    while (used < i + 1 &&
           !at(seg.hdr->shards_used).compare_exchange_weak(used, i + 1, std::memory_order_release)) {
    }
  }
  t.shard = shard_ref(seg, i);
  if (from_dead) {
    shard_tombstone_open(t.shard);
    at(h.drain_tid).store(0, std::memory_order_release);
    commit_held(t, kActive);
  }
  return true;
}

VALLEY_COLD void claim_shard(Thread& t) {
  Segment& seg = g_seg;
  for (uint32_t i = 0; i < kMaxShards; ++i) {
    uint32_t owner = at(seg.shards[i].tid).load(std::memory_order_relaxed);
    // A shard that names this tid belongs to a thread that ended without its destructor and
    // whose tid the kernel gave to this one.
    const bool stale = owner == t.tid;
    if (owner != 0 && !stale) continue;
    if (!at(seg.shards[i].tid).compare_exchange_strong(owner, t.tid, std::memory_order_acquire))
      continue;
    take(t, i, stale);
    return;
  }
  for (uint32_t i = 0; i < kMaxShards; ++i) {
    uint32_t owner = at(seg.shards[i].tid).load(std::memory_order_relaxed);
    if (owner == 0 || tid_alive(owner)) continue;
    if (!at(seg.shards[i].tid).compare_exchange_strong(owner, t.tid, std::memory_order_acquire))
      continue;
    take(t, i, true);
    return;
  }
  at(seg.hdr->shards_full).fetch_add(1, std::memory_order_relaxed);
}

// Ends the image's trace; `exec` keeps the event buffers restorable. Returns false when
// nothing was done.
bool finish(uint32_t state_bit) {
  int expected = kActive;
  if (g_phase.load(std::memory_order_acquire) != kActive) return false;
  if (!traced_process()) return false; // such a child leaves the parent's trace alone
  Thread& t = t_thread;
  // This thread's own slots: nothing of it will come back to fill them (this is an exit path).
  if (t.shard.h) {
    commit_held(t, kActive);
    shard_tombstone_open(t.shard);
  }
  if (!g_phase.compare_exchange_strong(expected, kFinished)) return false;
  Segment& seg = g_seg;
  const uint32_t me = t.tid ? t.tid : static_cast<uint32_t>(sys::gettid());
  const uint32_t used = at(seg.hdr->shards_used).load(std::memory_order_acquire);
  bool drained[kMaxShards] = {};
  for (uint32_t i = 0; i < used; ++i)
    if (at(seg.shards[i].state).load(std::memory_order_acquire) & kShardReserved)
      drained[i] = shard_drain(seg, i, me, true);
  // Valley's figures before the kernel's: a call another thread completes in between is then
  // in the kernel's only, never in valley's only.
  summarize_coverage(seg);
  segment_record_end(&seg);
  at(seg.hdr->state).fetch_or(state_bit, std::memory_order_release);
  // Storage another live thread may still write into stays (the reader finds what it adds).
  for (uint32_t i = 0; i < used; ++i) {
    const uint32_t owner = at(seg.shards[i].tid).load(std::memory_order_acquire);
    if (drained[i] && (owner == 0 || owner == me) && !seg.shards[i].held)
      segment_release_events(&seg, i);
  }
  return true;
}

void atfork_child() {
  coalesce_fork_child();
  if (g_phase.load(std::memory_order_acquire) != kActive) return;
  // Only the forking thread lives on in the child; its state names the parent's shard. It is
  // the child's main thread now, and takes a shard of the child's segment at its next call.
  t_thread = Thread{};
  if (g_thread_key_ok) pthread_setspecific(g_thread_key, nullptr);
  fd_table_new_generation();
  sys::reset_own_io();
  coverage_start();
  Segment parent = g_seg;
  Segment child{};
  if (segment_create(g_opts, Origin::fork, parent.hdr, &child)) {
    g_seg = child;
    py::note_state(g_seg);
  } else {
    g_phase.store(kOff, std::memory_order_release);
  }
  // The parent's mapping stays with the parent: the child must never write into it.
  segment_unmap(&parent);
  if (g_phase.load(std::memory_order_relaxed) == kOff) g_seg.hdr = nullptr;
}

} // namespace

bool traced_process() { return static_cast<uint32_t>(sys::getpid()) == g_seg.hdr->pid; }

VALLEY_COLD void first_call_of_thread(Thread& t) {
  t.tid = static_cast<uint32_t>(sys::gettid());
  if (g_thread_key_ok && t.tid != static_cast<uint32_t>(sys::getpid()))
    pthread_setspecific(g_thread_key, reinterpret_cast<void*>(1));
  if (g_seg.hdr && g_phase.load(std::memory_order_acquire) == kActive) claim_shard(t);
}

void own_thread_started() {
  if (g_thread_key_ok) pthread_setspecific(g_thread_key, reinterpret_cast<void*>(1));
}

void recover_thread(Thread& t) {
  // The abandoned frame may have been between the halves of a cache pair: start afresh.
  t.last_ra = 0;
  t.py_key = 0;
  t.last_key = 0;
  t.last_row = nullptr;
  t.lane = {};
  if (t.shard.h) {
    shard_tombstone_open(t.shard);
    uint32_t mine = t.tid;
    at(t.shard.h->drain_tid).compare_exchange_strong(mine, 0, std::memory_order_release);
  }
  coalesce_thread_recovered(t.tid);
}

void init() {
  int expected = kUninit;
  if (!g_phase.compare_exchange_strong(expected, kIniting)) return;
  int saved = errno;
  int next = kOff;
  real::ready();
  clock::init();
  // Secure execution (setuid, capabilities): never act on VALLEY_* settings there.
  if (getauxval(AT_SECURE) == 0 && read_options(environ, &g_opts) && !g_opts.off &&
      !selected_out()) {
    g_thread_key_ok = pthread_key_create(&g_thread_key, thread_ending) == 0;
    // Valley's own I/O counts from here, as the kernel's does: the config file read before is
    // in neither.
    sys::reset_own_io();
    coverage_start();
    if (segment_create(g_opts, Origin::start, nullptr, &g_seg)) {
      modules_refresh(g_seg);
      py::detect(g_seg);
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

void image_ending() {
  int saved = errno;
  if (g_phase.load(std::memory_order_acquire) == kActive) {
    if (traced_process())
      coalesce_final(); // before the final drain, so the flush is in the trace
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
  if (g_phase.load(std::memory_order_acquire) == kFinished && traced_process() &&
      (at(g_seg.hdr->state).load(std::memory_order_acquire) & kStateExec)) {
    at(g_seg.hdr->state).fetch_and(~uint32_t{kStateExec}, std::memory_order_release);
    // The image goes on: back to recording into the shards (or, if their storage cannot be had
    // again, on the slower direct-append path).
    if (segment_restore_events(&g_seg)) g_phase.store(kActive, std::memory_order_release);
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

} // namespace valley::shim
