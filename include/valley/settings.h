// SPDX-License-Identifier: MIT
/// @file settings.h
/// @brief The settings table (settings.def) and the checks both sides apply to a value: the
/// shim to VALLEY_* variables and its own reading of valley.toml, the advisor to what toml++
/// read. No dependencies, no allocation, no exceptions: the shim compiles it too.
#pragma once

#include "valley/format.h"

#include <cstddef>
#include <cstdint>
#include <sys/stat.h>

namespace valley::settings {

enum class Type : uint8_t { flag, count, fraction, path, external, kinds, globs, sites, sizes };

enum class Id : uint8_t {
#define X(id, ...) id,
#include "valley/settings.def"
#undef X
};

struct Setting {
  Id id;
  const char* env; ///< VALLEY_* name, or ""
  const char* key; ///< "table.key" in valley.toml, or ""
  Type type;
  uint64_t min, max; ///< count/sizes: the value; globs/sites: bytes per entry
  const char* def;   ///< the default as valley.toml writes it, or ""
  const char* unit;
  const char* help;
};

inline constexpr Setting kSettings[] = {
#define X(id, env, key, type, min, max, def, unit, help)                                           \
  {Id::id, env, key, Type::type, min, max, def, unit, help},
#include "valley/settings.def"
#undef X
};
inline constexpr size_t kCount = sizeof kSettings / sizeof kSettings[0];
static_assert(kCount <= 64, "the parsers keep one bit per setting");

/// A config file is a regular file of at most this many bytes (both sides refuse others).
inline constexpr size_t kMaxFileBytes = size_t{1} << 20;
/// Bytes for a list of globs or sites once joined with its separator, NUL included.
inline constexpr size_t kListBytes = 4096;
/// valley.toml's numbers are at most this long (well inside toml++'s own limits).
inline constexpr size_t kMaxNumberChars = 100;
inline constexpr const char* kTables[] = {"advisor", "coalesce"};
inline constexpr FdKind kCoalescibleKinds[] = {FdKind::regular, FdKind::pipe, FdKind::fifo,
                                               FdKind::tcp, FdKind::unix_stream};

constexpr const Setting& get(Id id) { return kSettings[static_cast<size_t>(id)]; }
constexpr size_t index(Id id) { return static_cast<size_t>(id); }

constexpr size_t length(const char* s) {
  size_t n = 0;
  while (s[n])
    ++n;
  return n;
}
/// s[0..n) equals the NUL-terminated word.
constexpr bool same(const char* s, size_t n, const char* word) {
  for (size_t i = 0; i < n; ++i)
    if (word[i] != s[i] || word[i] == '\0') return false;
  return word[n] == '\0';
}
constexpr size_t table_length(const Setting& s) {
  size_t n = 0;
  while (s.key[n] && s.key[n] != '.')
    ++n;
  return n;
}
/// The key without its table ("buffer_size" for "coalesce.buffer_size").
constexpr const char* key_name(const Setting& s) {
  const size_t t = table_length(s);
  return s.key[t] ? s.key + t + 1 : s.key + t;
}
constexpr bool is_list(Type t) {
  return t == Type::kinds || t == Type::globs || t == Type::sites || t == Type::sizes;
}
/// How a list is written in its VALLEY_* variable, and joined in the shim's options.
constexpr char separator(Type t) { return t == Type::globs ? ':' : ','; }

/// -1 when name is not a valley.toml table.
constexpr int table_index(const char* name, size_t n) {
  for (size_t i = 0; i < sizeof kTables / sizeof kTables[0]; ++i)
    if (same(name, n, kTables[i])) return static_cast<int>(i);
  return -1;
}
constexpr const Setting* by_env(const char* name, size_t n) {
  for (const Setting& s : kSettings)
    if (s.env[0] && same(name, n, s.env)) return &s;
  return nullptr;
}
constexpr const Setting* by_key(int table, const char* key, size_t n) {
  for (const Setting& s : kSettings) {
    if (!s.key[0] || table < 0) continue;
    if (same(s.key, table_length(s), kTables[table]) && same(key, n, key_name(s))) return &s;
  }
  return nullptr;
}

/// Defaults of scalar settings, from the table's text.
constexpr uint64_t default_count(Id id) {
  uint64_t v = 0;
  for (const char* p = get(id).def; *p; ++p)
    v = v * 10 + static_cast<uint64_t>(*p - '0');
  return v;
}
constexpr bool default_flag(Id id) { return same(get(id).def, 4, "true"); }
constexpr double default_fraction(Id id) {
  uint64_t whole = 0, frac = 0, scale = 1;
  const char* p = get(id).def;
  for (; *p && *p != '.'; ++p)
    whole = whole * 10 + static_cast<uint64_t>(*p - '0');
  if (*p == '.')
    for (++p; *p; ++p)
      frac = frac * 10 + static_cast<uint64_t>(*p - '0'), scale *= 10;
  return static_cast<double>(whole * scale + frac) / static_cast<double>(scale);
}

constexpr bool defaults_in_range() {
  for (const Setting& s : kSettings)
    if (s.type == Type::count && (default_count(s.id) < s.min || default_count(s.id) > s.max))
      return false;
  return true;
}
static_assert(defaults_in_range(), "a default in settings.def is outside its range");

/// Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates,
/// nothing above U+10FFFF), or 0.
constexpr size_t utf8_length(const unsigned char* p, size_t avail) {
  const unsigned c = p[0];
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if (c >= 0xE0 && c <= 0xEF)
    n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
  else
    return 0;
  if (avail < n || p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < n; ++i)
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  return n;
}
constexpr bool valid_utf8(const char* s, size_t n) {
  for (size_t i = 0; i < n;) {
    const size_t k = utf8_length(reinterpret_cast<const unsigned char*>(s) + i, n - i);
    if (!k) return false;
    i += k;
  }
  return true;
}

/// What is wrong with a value; describe() words it.
enum class Problem : uint8_t {
  ok,
  type,         ///< wrong type, or a number out of range: "must be …"
  unknown_kind, ///< an entry of kinds
  length,       ///< an entry of globs or sites: too short or too long
  separator,    ///< an entry holds its list's separator
  nul,          ///< an entry holds a NUL
  not_site,     ///< an entry of sites is not module+0xOFFSET
  list_full,    ///< the joined list would not fit kListBytes
  list_empty,   ///< kinds and sizes need at least one entry
};

/// The bit of an fd kind label in the shim's kinds set, or 0 if it may not be coalesced.
constexpr uint32_t kind_bit(const char* s, size_t n) {
  for (FdKind k : kCoalescibleKinds)
    if (same(s, n, fd_kind_name(k))) return 1u << static_cast<uint8_t>(k);
  return 0;
}

constexpr bool is_site(const char* s, size_t n) {
  size_t plus = n;
  for (size_t i = 0; i + 3 <= n; ++i)
    if (s[i] == '+' && s[i + 1] == '0' && s[i + 2] == 'x') plus = i;
  if (plus == 0 || plus == n) return false;
  for (size_t i = 0; i < plus; ++i)
    if (s[i] == '/') return false;
  const size_t digits = n - plus - 3;
  if (digits == 0 || digits > 16 || (digits > 1 && s[plus + 3] == '0')) return false;
  for (size_t i = plus + 3; i < n; ++i)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

/// Checks one entry of a list of strings (kinds, globs or sites).
constexpr Problem check_entry(const Setting& s, const char* e, size_t n) {
  if (s.type == Type::kinds) return kind_bit(e, n) ? Problem::ok : Problem::unknown_kind;
  for (size_t i = 0; i < n; ++i)
    if (e[i] == '\0') return Problem::nul;
  for (size_t i = 0; i < n; ++i)
    if (e[i] == separator(s.type)) return Problem::separator;
  if (n < s.min || n > s.max) return Problem::length;
  if (s.type == Type::sites && !is_site(e, n)) return Problem::not_site;
  return Problem::ok;
}

/// A small text builder over a caller's buffer; silently truncates, always NUL-terminated.
class Msg {
public:
  Msg(char* buf, size_t cap) : buf_(buf), cap_(cap) { buf_[0] = '\0'; }
  Msg& put(const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i)
      chr(s[i]);
    return *this;
  }
  Msg& str(const char* s) { return put(s, length(s)); }
  Msg& chr(char c) {
    if (len_ + 1 < cap_) buf_[len_++] = c, buf_[len_] = '\0';
    return *this;
  }
  Msg& num(uint64_t v) {
    char tmp[20];
    int n = 0;
    do
      tmp[n++] = static_cast<char>('0' + v % 10), v /= 10;
    while (v);
    while (n)
      chr(tmp[--n]);
    return *this;
  }
  /// s with control characters as \xNN: a message stays one line.
  Msg& printable(const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (c < 0x20 || c == 0x7f)
        chr('\\').chr('x').chr("0123456789abcdef"[c >> 4]).chr("0123456789abcdef"[c & 15]);
      else
        chr(s[i]);
    }
    return *this;
  }
  /// 'text', at most 60 bytes of it, printable.
  Msg& quoted(const char* s, size_t n) {
    chr('\'').printable(s, n < 60 ? n : 60);
    if (n > 60) str("...");
    return chr('\'');
  }
  const char* c_str() const { return buf_; }
  size_t size() const { return len_; }

private:
  char* buf_;
  size_t cap_;
  size_t len_ = 0;
};

/// "'coalesce.buffer_size'": how valley.toml's messages name a setting.
inline void name(Msg& m, const Setting& s) { m.chr('\'').str(s.key).chr('\''); }

/// The rest of a message after the setting's name: " must be an integer in 512..1048576
/// (bytes)", ": unknown kind 'udp' (known: …)". `env`: the value came from VALLEY_*.
inline void describe(Msg& m, const Setting& s, Problem p, bool env, const char* e = "",
                     size_t n = 0) {
  auto unit = [&] {
    if (s.unit[0] && s.type != Type::globs && s.type != Type::sites)
      m.str(" (").str(s.unit).chr(')');
  };
  switch (p) {
  case Problem::ok:
    break;
  case Problem::type:
    switch (s.type) {
    case Type::flag:
      m.str(env ? " must be 0 or 1" : " must be true or false");
      break;
    case Type::count:
      m.str(" must be an integer in ").num(s.min).str("..").num(s.max), unit();
      break;
    case Type::fraction:
      m.str(" must be a number in 0..1");
      break;
    case Type::sizes:
      m.str(" must be a list of integers in ").num(s.min).str("..").num(s.max), unit();
      break;
    case Type::kinds:
    case Type::globs:
    case Type::sites:
      m.str(" must be a list of strings");
      break;
    case Type::path:
    case Type::external:
      m.str(" must be text");
      break;
    }
    break;
  case Problem::unknown_kind:
    m.str(": unknown kind ").quoted(e, n).str(" (known:");
    for (FdKind k : kCoalescibleKinds)
      m.chr(' ').str(fd_kind_name(k)).chr(k == FdKind::unix_stream ? ')' : ',');
    break;
  case Problem::length:
    m.str(": an entry must be ").num(s.min).str("..").num(s.max).str(" bytes, not ").num(n);
    break;
  case Problem::separator:
    m.str(": an entry may not contain '").chr(separator(s.type)).chr('\'');
    break;
  case Problem::nul:
    m.str(": an entry may not contain NUL");
    break;
  case Problem::not_site:
    m.str(": ").quoted(e, n).str(" is not a call site (module+0xOFFSET: a file name, then the "
                                 "offset in lower-case hex without leading zeros)");
    break;
  case Problem::list_full:
    m.str(": longer than ").num(kListBytes - 1).str(" bytes in all");
    break;
  case Problem::list_empty:
    m.str(s.type == Type::kinds ? " needs at least one kind" : " needs at least one value");
    break;
  }
}

/// Why a config file is refused before it is read (both sides say it the same way).
inline const char* not_regular(unsigned mode) {
  switch (mode & S_IFMT) {
  case S_IFDIR:
    return "is a directory, not a regular file";
  case S_IFIFO:
    return "is a FIFO, not a regular file";
  case S_IFCHR:
    return "is a character device, not a regular file";
  case S_IFBLK:
    return "is a block device, not a regular file";
  case S_IFSOCK:
    return "is a socket, not a regular file";
  default:
    return "is not a regular file";
  }
}
inline constexpr const char* kTooLarge = "is larger than 1 MiB, the most a valley.toml may hold";

/// valley.toml's own rules (a subset of TOML that the shim reads without toml++), worded the
/// same by both sides.
namespace text {
inline constexpr const char* kOutsideTable =
    "a key outside any table (valley.toml's keys go under [advisor] or [coalesce])";
inline constexpr const char* kDottedKey =
    "dotted keys are not supported in valley.toml (write [table], then key = value)";
inline constexpr const char* kQuotedKey = "quoted keys are not supported in valley.toml";
inline constexpr const char* kArrayOfTables =
    "arrays of tables ([[...]]) are not supported in valley.toml";
inline constexpr const char* kMultiLineString =
    "multi-line strings are not supported in valley.toml";
inline constexpr const char* kMultiLineArray = "an array must be on one line in valley.toml";
inline constexpr const char* kDate = "dates and times are not supported in valley.toml";
inline constexpr const char* kLongNumber = "a number must be at most 100 characters in valley.toml";
inline constexpr const char* kSmallAboveLarge =
    "'advisor.small_write_bytes' and 'advisor.small_read_bytes' must not exceed "
    "'advisor.large_io_bytes'";
} // namespace text

inline void unknown_table(Msg& m, const char* t, size_t n) {
  m.str("unknown table [").put(t, n < 60 ? n : 60).str("] (known: [advisor], [coalesce])");
}
inline void unknown_key(Msg& m, int table, const char* k, size_t n) {
  m.str("unknown key ").quoted(k, n).str(" in [").str(kTables[table]).str("] (known:");
  bool first = true;
  for (const Setting& s : kSettings)
    if (s.key[0] && same(s.key, table_length(s), kTables[table]))
      m.str(first ? " " : ", ").str(key_name(s)), first = false;
  m.chr(')');
}

} // namespace valley::settings
