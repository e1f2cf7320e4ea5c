// SPDX-License-Identifier: MIT
/// @file text.cpp
/// @brief Small text helpers shared by the renderers.
#include "text.h"

#include <fmt/format.h>

#include <cstring>

namespace valley::advisor {

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || c == '\\')
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
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

std::string errno_name(int err) {
  if (const char* name = ::strerrorname_np(err)) return name;
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

} // namespace valley::advisor
