// SPDX-License-Identifier: MIT
/// @file text.cpp
/// @brief Small text helpers shared by the renderers.
#include "text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace valley::advisor {

namespace {

/// Length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629: no overlong
/// forms, no surrogates, nothing above U+10FFFF), 0 when there is none; `cp` gets its code
/// point.
size_t utf8_sequence(std::string_view s, char32_t& cp) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  size_t n;
  char32_t min;
  if (c < 0x80) {
    cp = c;
    return 1;
  } else if ((c & 0xe0) == 0xc0) {
    n = 2, min = 0x80, cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3, min = 0x800, cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4, min = 0x10000, cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (b(i) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

/// Code points a terminal acts on rather than shows: C0 and C1 controls (U+009B is a CSI on
/// its own), DEL, and the marks that reorder or break text (bidi embeddings, overrides and
/// isolates, line and paragraph separators).
bool acts_on_terminal(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
         (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

} // namespace

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  while (!s.empty()) {
    char32_t cp = 0;
    size_t n = utf8_sequence(s, cp);
    if (n == 0 || cp == '\\' || acts_on_terminal(cp)) {
      // Every byte of the sequence: the escape is exact, so the bytes can be recovered.
      for (size_t i = 0; i < std::max<size_t>(n, 1); ++i)
        out += fmt::format("\\x{:02x}", static_cast<unsigned char>(s[i]));
      n = std::max<size_t>(n, 1);
    } else {
      out.append(s.substr(0, n));
    }
    s.remove_prefix(n);
  }
  return out;
}

std::string shell_join(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) out += ' ';
    bool plain =
        !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
                                          "TUVWXYZ0123456789_-+=./:,@%") == std::string::npos;
    if (plain) {
      out += printable(a);
      continue;
    }
    out += '\'';
    for (char c : printable(a)) {
      if (c == '\'')
        out += "'\\''";
      else
        out += c;
    }
    out += '\'';
  }
  return out;
}

std::string errno_name(int64_t err) {
  if (err > 0 && err <= INT32_MAX)
    if (const char* name = ::strerrorname_np(static_cast<int>(err))) return name;
  return fmt::format("errno {}", err);
}

uint64_t bucket_low(uint32_t b) { return b == 0 ? 0 : uint64_t{1} << (b - 1); }

std::string size_label(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"", "K", "M", "G", "T"};
  size_t u = 0;
  while (bytes >= 1024 && bytes % 1024 == 0 && u + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++u;
  }
  return fmt::format("{}{}", bytes, kUnits[u]);
}

std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

uint64_t saturate_u64(double v) {
  if (!(v > 0)) return 0; // NaN too
  if (v >= 18446744073709551616.0) return UINT64_MAX;
  return static_cast<uint64_t>(v);
}

std::string format_ns(double ns) {
  struct Unit {
    double scale;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{1e9, "s"}, {1e6, "ms"}, {1e3, "us"}};
  for (const Unit& u : kUnits) {
    if (std::fabs(ns) >= u.scale) {
      double v = ns / u.scale;
      return fmt::format("{:.{}f}{}", v,
                         std::fabs(v) >= 100  ? 0
                         : std::fabs(v) >= 10 ? 1
                                              : 2,
                         u.name);
    }
  }
  return fmt::format("{:.0f}ns", ns);
}

} // namespace valley::advisor
