// SPDX-License-Identifier: MIT
/// @file config_file.cpp
/// @brief The [coalesce] table of a valley.toml, read inside the traced process. The advisor
/// reads the whole file with toml++; here, where nothing may allocate or throw, a small reader
/// takes the subset valley writes: `key = true|false|123|"text"|["a", "b"]`, comments, tables.
#include "diag.h"
#include "options.h"
#include "sys.h"

namespace valley::shim {
namespace {

struct Cursor {
  const char* path;
  int line;
};

bool fail(const Cursor& c, const char* what, const char* detail = "") {
  char msg[1400];
  Text t(msg, sizeof msg);
  t.str("error: ").str(c.path).chr(':').num(static_cast<uint64_t>(c.line)).str(": ").str(what).str(detail);
  diag(msg, "; coalescing off");
  return false;
}

const char* skip_space(const char* p) {
  while (*p == ' ' || *p == '\t') ++p;
  return p;
}

// After a value only spaces and a comment may follow.
bool at_end(const char* p) {
  p = skip_space(p);
  return *p == '\0' || *p == '#';
}

// Parses "text" at p into out; returns the position after the closing quote, or nullptr.
const char* parse_string(const char* p, char* out, size_t cap) {
  if (*p != '"') return nullptr;
  size_t n = 0;
  for (++p; *p && *p != '"'; ++p) {
    if (*p == '\\') return nullptr; // escapes are not part of the subset
    if (n + 1 < cap) out[n++] = *p;
  }
  out[n] = '\0';
  return *p == '"' ? p + 1 : nullptr;
}

// ["a", "b"] into a `sep`-joined list.
const char* parse_list(const char* p, char* out, size_t cap, char sep) {
  if (*p != '[') return nullptr;
  Text t(out, cap);
  p = skip_space(p + 1);
  while (*p != ']') {
    char item[512];
    p = parse_string(p, item, sizeof item);
    if (!p) return nullptr;
    if (t.size()) t.chr(sep);
    t.str(item);
    p = skip_space(p);
    if (*p == ',') p = skip_space(p + 1);
    else if (*p != ']') return nullptr;
  }
  return t.truncated() ? nullptr : p + 1;
}

bool parse_int(const char* p, uint64_t lo, uint64_t hi, uint64_t* out, const char** end) {
  uint64_t v = 0;
  const char* q = p;
  for (; (*q >= '0' && *q <= '9') || *q == '_'; ++q)
    if (*q != '_') v = v * 10 + static_cast<uint64_t>(*q - '0');
  if (q == p || v < lo || v > hi) return false;
  *out = v;
  *end = q;
  return true;
}

bool apply(const Cursor& c, const char* key, size_t key_len, const char* p, CoalesceOptions* o) {
  auto is = [&](const char* k) { return str_len(k) == key_len && starts_with(key, k); };
  const char* end = nullptr;
  uint64_t v = 0;
  if (is("enabled")) {
    if (starts_with(p, "true")) o->on = true, end = p + 4;
    else if (starts_with(p, "false")) o->on = false, end = p + 5;
    else return fail(c, "'enabled' must be true or false");
  } else if (is("stdio")) {
    if (starts_with(p, "true")) o->stdio = true, end = p + 4;
    else if (starts_with(p, "false")) o->stdio = false, end = p + 5;
    else return fail(c, "'stdio' must be true or false");
  } else if (is("buffer_size")) {
    if (!parse_int(p, 512, 1u << 20, &v, &end)) return fail(c, "'buffer_size' must be 512..1048576 bytes");
    o->size = static_cast<uint32_t>(v);
  } else if (is("max_age_ms")) {
    if (!parse_int(p, 1, 1000, &v, &end)) return fail(c, "'max_age_ms' must be 1..1000");
    o->max_age_us = static_cast<uint32_t>(v * 1000);
  } else if (is("kinds")) {
    char list[256];
    const char* bad = nullptr;
    end = parse_list(p, list, sizeof list, ',');
    if (!end) return fail(c, "'kinds' must be a list of strings");
    if (!parse_kinds(list, &o->kinds, &bad))
      return fail(c, "'kinds' takes file, pipe, fifo, tcp, unix-stream; not: ", bad);
  } else if (is("paths")) {
    end = parse_list(p, o->paths, sizeof o->paths, ':');
    if (!end) return fail(c, "'paths' must be a list of strings");
  } else if (is("sites")) {
    end = parse_list(p, o->sites, sizeof o->sites, ',');
    if (!end) return fail(c, "'sites' must be a list of strings");
  } else {
    char name[64];
    str_copy(name, key, key_len + 1 < sizeof name ? key_len + 1 : sizeof name);
    return fail(c, "unknown key in [coalesce]: ", name);
  }
  return at_end(end) ? true : fail(c, "unexpected text after the value");
}

} // namespace

bool read_coalesce_config(const char* path, CoalesceOptions* out) {
  static char text[32768];
  Cursor c{path, 0};
  ssize_t n = sys::read_file(path, text, sizeof text);
  if (n < 0) return fail(c, "cannot read the config file");
  if (static_cast<size_t>(n) + 1 >= sizeof text) return fail(c, "config file larger than 32 KiB");
  bool in_coalesce = false;
  char* line = text;
  while (*line) {
    char* eol = line;
    while (*eol && *eol != '\n') ++eol;
    const bool last = *eol == '\0';
    *eol = '\0';
    ++c.line;
    const char* p = skip_space(line);
    if (*p == '[') {
      in_coalesce = starts_with(p, "[coalesce]") && at_end(p + 10);
    } else if (in_coalesce && *p && *p != '#') {
      const char* key = p;
      while ((*p >= 'a' && *p <= 'z') || *p == '_') ++p;
      const size_t key_len = static_cast<size_t>(p - key);
      p = skip_space(p);
      if (key_len == 0 || *p != '=') return fail(c, "expected key = value");
      if (!apply(c, key, key_len, skip_space(p + 1), out)) return false;
    }
    if (last) break;
    line = eol + 1;
  }
  return true;
}

} // namespace valley::shim
