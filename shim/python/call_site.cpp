// SPDX-License-Identifier: MIT
#include "python/call_site.h"

#include "python/runtime.h"

#include <cstring>
#include <pthread.h>

namespace valley::shim::py {
namespace {

uint64_t mix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  return k ^ (k >> 33);
}

void copy(char* dst, const char* src, size_t cap) {
  size_t n = strnlen(src, cap - 1);
  memcpy(dst, src, n);
  dst[n] = '\0';
}

} // namespace

uint64_t call_key(Thread& t, uint64_t ra) {
  const Runtime& rt = g_runtime;
  const uintptr_t ts = thread_state(rt);
  if (ts == 0) return 0;
  if (ts != t.py_tstate) {
    // Once per thread (and per new thread state): the slot is this thread's own, so later
    // calls trust it without looking again.
    if (!thread_state_is_mine(rt, ts, static_cast<uint64_t>(pthread_self()))) return 0;
    t.py_tstate = ts;
  }
  Key k;
  if (!current_key(rt, ts, &k)) return 0;
  const uint64_t h = mix(ra ^ mix(k.code ^ (uint64_t{k.offset} << 48)) ^ mix(k.callers + 1));
  return (h & ~(uint64_t{3} << 62)) | (uint64_t{1} << 62);
}

uint32_t store_stack(Segment& seg, Thread& t, uint32_t site, uint32_t max_frames) {
  if (!t.py_tstate || !seg.pyframes) return 0;
  FrameText frames[kMaxPyFrames];
  const uint32_t want = max_frames < kMaxPyFrames ? max_frames : kMaxPyFrames;
  const uint32_t n = read_stack(g_runtime, t.py_tstate, frames, want);
  if (n == 0) return 0;
  SegmentHeader* h = seg.hdr;
  const uint32_t first = at(h->pyframes_used).fetch_add(n, std::memory_order_relaxed);
  if (first > h->pyframes.capacity || n > h->pyframes.capacity - first) {
    at(h->pyframes_used).fetch_sub(n, std::memory_order_relaxed);
    at(h->pyframes_full).fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  // The segment's file is backed page by page: rows on a page the file system
  // refuses stay unwritten, and a reader skips them (ready 0).
  if (!segment_ensure(seg, &seg.pyframes[first], size_t{n} * sizeof(PyFrameRow))) {
    at(h->pyframes_full).fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  for (uint32_t i = 0; i < n; ++i) {
    PyFrameRow& r = seg.pyframes[first + i];
    r.site = site;
    r.index = static_cast<uint16_t>(i);
    r.count = static_cast<uint16_t>(n);
    r.line = frames[i].line;
    r.first_line = frames[i].first_line;
    copy(r.function, frames[i].function, sizeof r.function);
    copy(r.file, frames[i].file, sizeof r.file);
    at(r.ready).store(1, std::memory_order_release);
  }
  return first + 1;
}

} // namespace valley::shim::py
