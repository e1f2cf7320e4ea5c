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

bool is_coalesce(Id id) {
  switch (id) {
  case Id::coalesce_enabled:
  case Id::coalesce_naive:
  case Id::coalesce_size:
  case Id::coalesce_max_age:
  case Id::coalesce_kinds:
  case Id::coalesce_paths:
  case Id::coalesce_sites:
  case Id::coalesce_stdio:
    return true;
  default:
    return false;
  }
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

void coalesce_defaults(CoalesceOptions* o) {
  __builtin_memset(o, 0, sizeof *o); // 8 KiB: never as a temporary on a stack that may be small
  for (const st::Setting& s : st::kSettings) {
    if (!is_coalesce(s.id)) continue;
    if (s.type == Type::flag)
      coalesce_set(o, s.id, st::default_flag(s.id));
    else if (s.type == Type::count)
      coalesce_set(o, s.id, st::default_count(s.id));
    if (!st::is_list(s.type)) continue;
    // A default list is a few plain "strings" (the shared corpus checks it parses the same).
    coalesce_list_clear(o, s.id);
    for (const char* p = s.def; *p; ++p) {
      if (*p != '"') continue;
      const char* end = p + 1;
      while (*end && *end != '"')
        ++end;
      coalesce_list_add(o, s, p + 1, static_cast<size_t>(end - p - 1));
      p = end;
    }
  }
}

void coalesce_set(CoalesceOptions* o, Id id, uint64_t v) {
  switch (id) {
  case Id::coalesce_enabled:
    o->on = v != 0;
    break;
  case Id::coalesce_naive:
    o->naive = v != 0;
    break;
  case Id::coalesce_size:
    o->size = static_cast<uint32_t>(v);
    break;
  case Id::coalesce_max_age:
    o->max_age_us = static_cast<uint32_t>(v * 1000);
    break;
  case Id::coalesce_stdio:
    o->stdio = v != 0;
    break;
  default:
    break;
  }
}

void coalesce_list_clear(CoalesceOptions* o, Id id) {
  if (id == Id::coalesce_kinds) o->kinds = 0;
  if (id == Id::coalesce_paths) o->paths[0] = '\0';
  if (id == Id::coalesce_sites) o->sites[0] = '\0';
}

Problem coalesce_list_add(CoalesceOptions* o, const st::Setting& s, const char* e, size_t n) {
  const Problem problem = st::check_entry(s, e, n);
  if (problem != Problem::ok) return problem;
  if (s.id == Id::coalesce_kinds) o->kinds |= st::kind_bit(e, n);
  char* list = s.id == Id::coalesce_paths   ? o->paths
               : s.id == Id::coalesce_sites ? o->sites
                                            : nullptr;
  if (!list) return Problem::ok;
  size_t len = str_len(list);
  if (len + (len ? 1 : 0) + n >= st::kListBytes) return Problem::list_full;
  if (len) list[len++] = st::separator(s.type);
  for (size_t i = 0; i < n; ++i)
    list[len + i] = e[i];
  list[len + n] = '\0';
  return Problem::ok;
}

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
    const bool coalescing = is_coalesce(s->id);
    const char* consequence = coalescing ? "coalescing off" : "tracing off";
    uint64_t v = 0;
    switch (s->type) {
    case Type::external:
    case Type::fraction:
    case Type::sizes:
      break;
    case Type::path:
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
