// SPDX-License-Identifier: MIT
#include "options.h"

#include "diag.h"
#include "sys.h"

#include <unistd.h>

namespace valley::shim {
namespace {

enum class Kind { path, count, flag, external };
enum class Id { dir, ring_events, events, stack_sample, max_frames, off, verbose, shim };

struct Spec {
  Id id;
  const char* name;
  Kind kind;
  uint64_t min, max, def;
  const char* meaning; // also the documentation: keep in step with README.md
};

// One table; options.cpp is the only place in the shim that reads the environment.
constexpr Spec kSpecs[] = {
    {Id::dir, "VALLEY_DIR", Kind::path, 0, 0, 0, "run directory; default $TMPDIR/valley-<uid>/pgid-<pgid>"},
    {Id::ring_events, "VALLEY_RING_EVENTS", Kind::count, 1024, 1u << 24, 65536,
     "event ring capacity in events (rounded up to a power of two)"},
    {Id::events, "VALLEY_EVENTS", Kind::flag, 0, 1, 1, "0: keep counters only, no event log"},
    {Id::stack_sample, "VALLEY_STACK_SAMPLE", Kind::count, 0, 1u << 30, 4096,
     "re-capture a stack every N calls per thread (0: first sight only)"},
    {Id::max_frames, "VALLEY_MAX_FRAMES", Kind::count, 1, 62, 62, "frames kept per stack"},
    {Id::off, "VALLEY_OFF", Kind::flag, 0, 1, 0, "1: record nothing, pass every call through"},
    {Id::verbose, "VALLEY_VERBOSE", Kind::flag, 0, 1, 0, "1: print where the trace goes"},
    {Id::shim, "VALLEY_SHIM", Kind::external, 0, 0, 0, "read by `valley run`, not by the shim"},
};

const Spec* find_spec(const char* entry, const char** value) {
  for (const Spec& s : kSpecs) {
    size_t n = str_len(s.name);
    if (starts_with(entry, s.name) && entry[n] == '=') {
      *value = entry + n + 1;
      return &s;
    }
  }
  return nullptr;
}

uint32_t round_pow2(uint64_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

void set(Options* o, Id id, uint64_t v) {
  switch (id) {
  case Id::ring_events: o->ring_events = round_pow2(v); break;
  case Id::events: o->events = v != 0; break;
  case Id::stack_sample: o->stack_sample = static_cast<uint32_t>(v); break;
  case Id::max_frames: o->max_frames = static_cast<uint32_t>(v); break;
  case Id::off: o->off = v != 0; break;
  case Id::verbose: o->verbose = v != 0; break;
  case Id::dir:
  case Id::shim: break;
  }
}

} // namespace

bool read_options(char** env, Options* o) {
  *o = Options{};
  for (const Spec& s : kSpecs) set(o, s.id, s.def);
  for (char** e = env; e && *e; ++e) {
    if (!starts_with(*e, "VALLEY_")) continue;
    const char* value = nullptr;
    const Spec* s = find_spec(*e, &value);
    if (!s) {
      char name[64];
      size_t i = 0;
      for (; (*e)[i] && (*e)[i] != '=' && i + 1 < sizeof name; ++i) name[i] = (*e)[i];
      name[i] = '\0';
      diag("warning: unknown variable ", name, " ignored");
      continue;
    }
    uint64_t v = 0;
    switch (s->kind) {
    case Kind::external: continue;
    case Kind::path:
      if (!*value || str_len(value) >= sizeof o->dir) {
        diag("error: VALLEY_DIR is empty or too long; tracing off");
        return false;
      }
      str_copy(o->dir, value, sizeof o->dir);
      continue;
    case Kind::count:
    case Kind::flag:
      if (!parse_u64(value, &v) || v < s->min || v > s->max) {
        char range[64];
        Text t(range, sizeof range);
        t.str(" (expected ").num(s->min).str("..").num(s->max).str("); tracing off");
        char head[160];
        Text h(head, sizeof head);
        h.str("error: ").str(s->name).str("='").str(value).str("' is not valid");
        diag(head, range);
        return false;
      }
      break;
    }
    set(o, s->id, v);
  }
  return true;
}

} // namespace valley::shim
