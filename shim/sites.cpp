// SPDX-License-Identifier: MIT
#include "sites.h"

#include "modules.h"
#include "python/call_site.h"
#include "sys.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <boost/stacktrace/safe_dump_to.hpp>
#include <cstring>
#include <unwind.h>

namespace valley::shim {
namespace {

constexpr uint32_t kMaxProbe = 64; // a full table must not turn every call into a scan
constexpr uint32_t kPageRows = 4096 / sizeof(SiteRow);
constexpr uint32_t kMaxWindowProbe = 16;

uint64_t mix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  return k;
}

enum class Probe { found, taken, unbacked };

Probe try_row(Segment& seg, uint32_t i, uint64_t key, bool* fresh) {
  SiteRow& r = seg.sites[i];
  if (!segment_ensure(seg, &r, sizeof r)) return Probe::unbacked;
  uint64_t k = at(r.key).load(std::memory_order_acquire);
  if (k == key) return Probe::found;
  if (k != 0) return Probe::taken;
  if (at(r.key).compare_exchange_strong(k, key, std::memory_order_acq_rel)) {
    at(seg.hdr->sites_used).fetch_add(1, std::memory_order_relaxed);
    *fresh = true;
    return Probe::found;
  }
  return k == key ? Probe::found : Probe::taken;
}

// A key first tries kMaxWindowProbe rows of the table's first page (from its hash), so that a
// process with a few call sites leaves one page of sites; it goes to the whole table only when
// those rows are all taken, and since rows are never freed, it never gets a second row.
uint32_t probe(Segment& seg, uint64_t key, bool* fresh) {
  const uint32_t h = static_cast<uint32_t>(mix(key));
  const uint32_t window = kPageRows <= seg.sites_mask + 1 ? kPageRows : seg.sites_mask + 1;
  Probe p = Probe::taken;
  for (uint32_t n = 0, i = h % window; n < kMaxWindowProbe && n < window;
       ++n, i = i + 1 == window ? 0 : i + 1)
    if ((p = try_row(seg, i, key, fresh)) == Probe::found)
      return i;
    else if (p == Probe::unbacked)
      break;
  uint32_t i = h & seg.sites_mask;
  for (uint32_t n = 0; n < kMaxProbe && p != Probe::unbacked; ++n, i = (i + 1) & seg.sites_mask)
    if ((p = try_row(seg, i, key, fresh)) == Probe::found) return i;
  at(seg.hdr->sites_full).fetch_add(1, std::memory_order_relaxed);
  return kSiteUnknown;
}

// Stores the current stack (innermost first, libvalley's frames dropped) for `site`, or adds
// a hit to an identical one. Returns the stack id, 0 if none.
uint32_t capture(Segment& seg, uint32_t site, uint32_t max_frames) {
  void* raw[kMaxFrames + 24];
  // safe_dump_to: Boost.Stacktrace's capture into caller memory, no allocation, no
  // symbolization (that happens offline in the advisor).
  size_t n = boost::stacktrace::safe_dump_to(0, raw, sizeof raw);
  if (n > 0) --n; // the terminating null
  size_t first = 0;
  while (first < n && in_self(reinterpret_cast<uint64_t>(raw[first]))) ++first;
  uint32_t count = static_cast<uint32_t>(n - first);
  if (count > max_frames) count = max_frames;
  if (count == 0) return 0;

  SegmentHeader* h = seg.hdr;
  const uint32_t used = at(h->stacks_used).load(std::memory_order_acquire);
  for (uint32_t i = 0; i < used && i < h->stacks.capacity; ++i) {
    StackRow& s = seg.stacks[i];
    if (s.site != site || at(s.nframes).load(std::memory_order_acquire) != count) continue;
    if (memcmp(s.frames, raw + first, count * sizeof(uint64_t)) == 0) {
      at(s.hits).fetch_add(1, std::memory_order_relaxed);
      return i + 1;
    }
  }
  uint32_t i = at(h->stacks_used).fetch_add(1, std::memory_order_relaxed);
  if (i >= h->stacks.capacity || !segment_ensure(seg, &seg.stacks[i], sizeof(StackRow))) {
    at(h->stacks_used).fetch_sub(1, std::memory_order_relaxed);
    at(h->stacks_full).fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  StackRow& s = seg.stacks[i];
  s.site = site;
  s.hits = 1;
  s.modules_seen = at(h->modules_used).load(std::memory_order_acquire);
  memcpy(s.frames, raw + first, count * sizeof(uint64_t));
  at(s.nframes).store(count, std::memory_order_release);
  return i + 1;
}

// The first return address outside both libvalley and the library [lo, hi): the code that
// called into the library. A bounded walk that stops there, unlike a full capture.
struct FindCaller {
  uint64_t lo, hi, found;
  int budget;
};
_Unwind_Reason_Code find_caller_step(_Unwind_Context* ctx, void* arg) {
  auto* f = static_cast<FindCaller*>(arg);
  uint64_t ip = _Unwind_GetIP(ctx);
  if (ip == 0 || --f->budget < 0) return _URC_END_OF_STACK;
  if (in_self(ip) || (ip >= f->lo && ip < f->hi)) return _URC_NO_REASON;
  f->found = ip;
  return _URC_END_OF_STACK;
}

void fill_fresh(Segment& seg, uint32_t id, uint64_t ra, uint64_t caller, uint32_t flags,
                bool nested, uint32_t max_frames) {
  SiteRow& r = seg.sites[id];
  r.return_address = ra;
  r.caller = caller;
  if (!(flags & kSiteMarker)) {
    r.first_stack = nested ? 0 : capture(seg, id, max_frames);
    if (!r.first_stack) flags |= kSiteNoStack;
  }
  at(r.flags).store(flags | kSiteReady, std::memory_order_release);
}

} // namespace

uint32_t site_lookup(Segment& seg, uint64_t ra, bool nested, uint32_t max_frames) {
  bool fresh = false;
  uint32_t id = probe(seg, ra, &fresh);
  if (id == kSiteUnknown) return id;
  SiteRow& r = seg.sites[id];
  if (fresh) {
    // Calls from the main executable are keyed by their own return address. Calls from a
    // library (libstdc++'s stream buffer, libpython, …) would all collapse into the library's
    // one write call, so the row becomes a marker and the caller splits them.
    int m = module_of(seg, ra, !nested);
    bool library = m >= 0 && !seg.modules[m].is_main;
    fill_fresh(seg, id, ra, library ? static_cast<uint64_t>(m) : 0,
               library ? uint32_t{kSiteMarker} : 0u, nested, max_frames);
  }
  const uint32_t flags = at(r.flags).load(std::memory_order_acquire);
  if (!(flags & kSiteMarker) || nested) return id;

  const ModuleRow& lib = seg.modules[r.caller];
  FindCaller f{lib.lo, lib.hi, 0, 64};
  _Unwind_Backtrace(find_caller_step, &f);
  if (!f.found) return id;
  const uint64_t key = (ra ^ (f.found * 0x9E3779B97F4A7C15ULL)) | (uint64_t{1} << 63);
  fresh = false;
  uint32_t split = probe(seg, key, &fresh);
  if (split == kSiteUnknown) return id;
  if (fresh) fill_fresh(seg, split, ra, f.found, kSiteSplit, nested, max_frames);
  return split;
}

uint32_t python_site_lookup(Segment& seg, Thread& t, uint64_t key, uint64_t ra,
                            uint32_t max_frames) {
  bool fresh = false;
  const uint32_t id = probe(seg, key, &fresh);
  if (id == kSiteUnknown || !fresh) return id;
  SiteRow& r = seg.sites[id];
  r.return_address = ra;
  r.caller = py::store_stack(seg, t, id, max_frames);
  r.first_stack = capture(seg, id, max_frames);
  const uint32_t flags = kSitePython | (r.first_stack ? 0u : uint32_t{kSiteNoStack});
  at(r.flags).store(flags | kSiteReady, std::memory_order_release);
  return id;
}

bool site_text(Segment& seg, uint64_t ra, char* out, size_t cap) {
  const int m = module_of(seg, ra, true);
  if (m < 0) return false;
  const char* path = seg.modules[m].path;
  const char* base = path;
  for (const char* p = path; *p; ++p)
    if (*p == '/') base = p + 1;
  Text(out, cap).str(base).str("+0x").hex(ra - seg.modules[m].bias);
  return true;
}

void site_sample(Segment& seg, uint32_t site, uint32_t max_frames) {
  if (site == kSiteUnknown) return;
  capture(seg, site, max_frames);
}

} // namespace valley::shim
