// SPDX-License-Identifier: MIT
#include "options.h"

#include "diag.h"
#include "sys.h"

#include <unistd.h>

namespace valley::shim {
namespace {

enum class Kind { path, count, flag, text, external };
enum class Id {
  dir, ring_events, events, stack_sample, max_frames, off, verbose, shim, config,
  coalesce, coalesce_naive, coalesce_size, coalesce_max_age_ms, coalesce_stdio, coalesce_kinds,
  coalesce_paths, coalesce_sites
};

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
    {Id::config, "VALLEY_CONFIG", Kind::path, 0, 0, 0, "a valley.toml; the shim reads its [coalesce] table"},
    {Id::coalesce, "VALLEY_COALESCE", Kind::flag, 0, 1, 0, "1: coalesce small writes"},
    {Id::coalesce_naive, "VALLEY_COALESCE_NAIVE", Kind::flag, 0, 1, 0,
     "tests only: buffer every fd and flush only when full or at exit (unsafe on purpose)"},
    {Id::coalesce_size, "VALLEY_COALESCE_SIZE", Kind::count, 512, 1u << 20, 65536, "buffer bytes"},
    {Id::coalesce_max_age_ms, "VALLEY_COALESCE_MAX_AGE_MS", Kind::count, 1, 1000, 5,
     "oldest buffered byte, in milliseconds"},
    {Id::coalesce_stdio, "VALLEY_COALESCE_STDIO", Kind::flag, 0, 1, 0,
     "1: buffer fds 0-2 too (only if the program does not mix stdio with write on them)"},
    {Id::coalesce_kinds, "VALLEY_COALESCE_KINDS", Kind::text, 0, 0, 0,
     "fd kinds to coalesce: file,pipe,fifo,tcp,unix-stream (default file)"},
    {Id::coalesce_paths, "VALLEY_COALESCE_PATHS", Kind::text, 0, 0, 0, "':'-separated path globs"},
    {Id::coalesce_sites, "VALLEY_COALESCE_SITES", Kind::text, 0, 0, 0,
     "','-separated call sites, module+0xOFFSET"},
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
  case Id::coalesce: o->coalesce.on = v != 0; break;
  case Id::coalesce_naive: o->coalesce.naive = v != 0; break;
  case Id::coalesce_size: o->coalesce.size = static_cast<uint32_t>(v); break;
  case Id::coalesce_max_age_ms: o->coalesce.max_age_us = static_cast<uint32_t>(v * 1000); break;
  case Id::coalesce_stdio: o->coalesce.stdio = v != 0; break;
  default: break;
  }
}

bool is_coalesce(Id id) { return id >= Id::coalesce; }

void bad_value(const Spec& s, const char* value, const char* consequence) {
  char range[96];
  Text t(range, sizeof range);
  if (s.kind == Kind::count || s.kind == Kind::flag) t.str(" (expected ").num(s.min).str("..").num(s.max).str(")");
  t.str("; ").str(consequence);
  char head[300];
  Text h(head, sizeof head);
  h.str("error: ").str(s.name).str("='").str(value).str("' is not valid");
  diag(head, range);
}

} // namespace

bool parse_kinds(const char* list, uint32_t* kinds, const char** bad) {
  static constexpr FdKind kAllowed[] = {FdKind::regular, FdKind::pipe, FdKind::fifo, FdKind::tcp,
                                        FdKind::unix_stream};
  *kinds = 0;
  for (const char* p = list; *p;) {
    const char* end = p;
    while (*end && *end != ',') ++end;
    bool found = false;
    for (FdKind k : kAllowed) {
      const char* label = fd_kind_name(k);
      if (str_len(label) == static_cast<size_t>(end - p) && starts_with(p, label)) {
        *kinds |= 1u << static_cast<uint8_t>(k);
        found = true;
      }
    }
    if (!found) {
      *bad = p;
      return false;
    }
    p = *end ? end + 1 : end;
  }
  return *kinds != 0;
}

bool read_options(char** env, Options* o) {
  *o = Options{};
  for (const Spec& s : kSpecs) set(o, s.id, s.def);
  o->coalesce.kinds = 1u << static_cast<uint8_t>(FdKind::regular);
  bool coalesce_ok = true;
  // The config file first, so that VALLEY_COALESCE* variables override it.
  for (char** e = env; e && *e; ++e)
    if (starts_with(*e, "VALLEY_CONFIG=")) {
      str_copy(o->config, *e + 14, sizeof o->config);
      if (o->config[0]) coalesce_ok = read_coalesce_config(o->config, &o->coalesce);
    }
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
      if (s->id == Id::config) continue;
      if (!*value || str_len(value) >= sizeof o->dir) {
        diag("error: VALLEY_DIR is empty or too long; tracing off");
        return false;
      }
      str_copy(o->dir, value, sizeof o->dir);
      continue;
    case Kind::text: {
      const char* bad = nullptr;
      if (s->id == Id::coalesce_kinds && !parse_kinds(value, &o->coalesce.kinds, &bad)) {
        bad_value(*s, value, "coalescing off");
        coalesce_ok = false;
      } else if (s->id == Id::coalesce_paths) {
        str_copy(o->coalesce.paths, value, sizeof o->coalesce.paths);
      } else if (s->id == Id::coalesce_sites) {
        str_copy(o->coalesce.sites, value, sizeof o->coalesce.sites);
      }
      continue;
    }
    case Kind::count:
    case Kind::flag:
      if (!parse_u64(value, &v) || v < s->min || v > s->max) {
        if (is_coalesce(s->id)) { // a coalescing mistake must not cost the trace
          bad_value(*s, value, "coalescing off");
          coalesce_ok = false;
          continue;
        }
        bad_value(*s, value, "tracing off");
        return false;
      }
      break;
    }
    set(o, s->id, v);
  }
  if (!coalesce_ok) o->coalesce.on = false;
  return true;
}

} // namespace valley::shim
