// SPDX-License-Identifier: MIT
#include "options.h"

#include "config_file.h"
#include "diag.h"
#include "sys.h"

namespace valley::shim {
namespace st = valley::settings;
using st::Id;
using st::Problem;
using st::Type;

namespace {

uint32_t round_pow2(uint64_t v) {
  uint32_t p = 1;
  while (p < v)
    p <<= 1;
  return p;
}

void set(Options* o, Id id, uint64_t v) {
  switch (id) {
  case Id::ring_events:
    o->ring_events = round_pow2(v);
    break;
  case Id::events:
    o->events = v != 0;
    break;
  case Id::stack_sample:
    o->stack_sample = static_cast<uint32_t>(v);
    break;
  case Id::max_frames:
    o->max_frames = static_cast<uint32_t>(v);
    break;
  case Id::off:
    o->off = v != 0;
    break;
  case Id::python:
    o->python = v != 0;
    break;
  case Id::verbose:
    o->verbose = v != 0;
    break;
  default:
    coalesce_set(&o->coalesce, id, v);
    break;
  }
}

// "error: VALLEY_X='value' must be …; <consequence>": one line, the value's control
// characters escaped.
void bad_value(const st::Setting& s, const char* value, Problem p, const char* entry, size_t n,
               const char* consequence) {
  char line[480];
  st::Msg m(line, sizeof line);
  m.str("error: ").str(s.env).chr('=').quoted(value, str_len(value));
  st::describe(m, s, p, true, entry, n);
  m.str("; ").str(consequence);
  diag(line);
}

// A list in its variable: entries separated by the list's separator, each checked as in
// valley.toml. An empty variable is an empty list.
Problem read_list(CoalesceOptions* o, const st::Setting& s, const char* value, const char** entry,
                  size_t* n) {
  coalesce_list_clear(o, s.id);
  *entry = value;
  *n = 0;
  if (!*value) return s.type == Type::kinds ? Problem::list_empty : Problem::ok;
  for (const char* p = value;;) {
    const char* end = p;
    while (*end && *end != st::separator(s.type))
      ++end;
    const Problem problem = coalesce_list_add(o, s, p, static_cast<size_t>(end - p));
    if (problem != Problem::ok) {
      *entry = p;
      *n = static_cast<size_t>(end - p);
      return problem;
    }
    if (!*end) return Problem::ok;
    p = end + 1;
  }
}

} // namespace

bool read_options(char** env, Options* o) {
  __builtin_memset(o, 0, sizeof *o);
  for (const st::Setting& s : st::kSettings) {
    if (s.type == Type::flag) set(o, s.id, st::default_flag(s.id));
    if (s.type == Type::count) set(o, s.id, st::default_count(s.id));
  }
  coalesce_defaults(&o->coalesce);
  bool coalesce_ok = true;
  // The config file first, so that VALLEY_COALESCE* variables override it.
  for (char** e = env; e && *e; ++e) {
    if (!starts_with(*e, "VALLEY_CONFIG=")) continue;
    const char* value = *e + 14;
    if (!*value) continue;
    if (str_len(value) >= sizeof o->config) { // a cut path would name another file
      diag("error: VALLEY_CONFIG is longer than 1023 bytes; coalescing off");
      coalesce_ok = false;
      continue;
    }
    str_copy(o->config, value, sizeof o->config);
    if (!read_coalesce_config(o->config, &o->coalesce)) coalesce_ok = false;
  }
  for (char** e = env; e && *e; ++e) {
    if (!starts_with(*e, "VALLEY_")) continue;
    size_t name_len = 0;
    while ((*e)[name_len] && (*e)[name_len] != '=')
      ++name_len;
    const st::Setting* s = st::by_env(*e, name_len);
    if (!s) {
      char name[64];
      str_copy(name, *e, name_len + 1 < sizeof name ? name_len + 1 : sizeof name);
      diag("warning: unknown variable ", name, " ignored");
      continue;
    }
    if (!(*e)[name_len]) continue;
    const char* value = *e + name_len + 1;
    const bool coalescing = coalesce_setting(s->id);
    const char* consequence = coalescing ? "coalescing off" : "tracing off";
    uint64_t v = 0;
    switch (s->type) {
    case Type::external:
    case Type::fraction:
    case Type::sizes:
      break;
    case Type::path:
      if (s->id == Id::only) {
        if (str_len(value) >= sizeof o->only) {
          diag("error: VALLEY_ONLY is longer than 255 bytes; tracing off");
          return false;
        }
        str_copy(o->only, value, sizeof o->only);
        break;
      }
      if (s->id != Id::dir) break;
      if (!*value || str_len(value) >= sizeof o->dir) {
        diag("error: VALLEY_DIR is empty or too long; tracing off");
        return false;
      }
      str_copy(o->dir, value, sizeof o->dir);
      break;
    case Type::flag:
    case Type::count:
      if (!parse_u64(value, &v) || v < s->min || v > s->max) {
        bad_value(*s, value, Problem::type, "", 0, consequence);
        if (!coalescing) return false; // a coalescing mistake must not cost the trace
        coalesce_ok = false;
        break;
      }
      set(o, s->id, v);
      break;
    case Type::kinds:
    case Type::globs:
    case Type::sites: {
      const char* entry = nullptr;
      size_t n = 0;
      const Problem problem = read_list(&o->coalesce, *s, value, &entry, &n);
      if (problem != Problem::ok) {
        bad_value(*s, value, problem, entry, n, consequence);
        coalesce_ok = false;
      }
      break;
    }
    }
  }
  if (!coalesce_ok) o->coalesce.on = false;
  return true;
}

} // namespace valley::shim
