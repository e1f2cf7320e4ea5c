// SPDX-License-Identifier: MIT
/// @file config.cpp
/// @brief The coalescing settings, as VALLEY_COALESCE* and valley.toml's [coalesce] give them
/// (both checked by the same settings table).
#include "coalesce.h"

#include "sys.h"

namespace valley::shim {
namespace st = valley::settings;
using st::Id;
using st::Problem;
using st::Type;

bool coalesce_setting(Id id) {
  switch (id) {
  case Id::coalesce_enabled:
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

void coalesce_defaults(CoalesceOptions* o) {
  __builtin_memset(o, 0, sizeof *o); // 8 KiB: never as a temporary on a stack that may be small
  for (const st::Setting& s : st::kSettings) {
    if (!coalesce_setting(s.id)) continue;
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

} // namespace valley::shim
