// SPDX-License-Identifier: MIT
/// @file filters.cpp
/// @brief Parsing and matching of the filter options (filters.h).
#include "filters.h"

#include "commands.h"
#include "process.h"
#include "text.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <fnmatch.h>

namespace valley::advisor {
namespace {

std::string shown(std::string_view v) { return printable(std::string(v)); }

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// The function name without its parameter list: "write_all(int, char const*)" -> "write_all".
std::string_view bare_function(std::string_view f) {
  const size_t paren = f.find('(');
  return paren == std::string_view::npos ? f : f.substr(0, paren);
}

bool function_is(std::string_view have, const std::string& want) {
  return !have.empty() && (have == want || bare_function(have) == want);
}

// "src/app.c" names /home/u/src/app.c and src/app.c, not mysrc/app.c.
bool file_is(std::string_view have, const std::string& want) {
  if (have.empty()) return false;
  if (have == want) return true;
  return have.size() > want.size() && have.ends_with(want) &&
         have[have.size() - want.size() - 1] == '/';
}

} // namespace

double parse_duration(std::string_view option, std::string_view v) {
  auto bad = [&](const char* why) {
    return UsageError(fmt::format("{} takes a duration such as 200us, 5ms or 1.5s (units: ns, "
                                  "us, ms, s), not '{}': {}",
                                  option, shown(v), why));
  };
  double n = 0;
  const char* end = v.data() + v.size();
  auto [p, ec] = std::from_chars(v.data(), end, n, std::chars_format::fixed);
  if (v.empty() || ec != std::errc()) throw bad("no number");
  if (!std::isfinite(n) || n < 0) throw bad("not a non-negative number");
  const std::string_view unit(p, static_cast<size_t>(end - p));
  double scale = 0;
  if (unit == "ns")
    scale = 1;
  else if (unit == "us" || unit == "\u00b5s")
    scale = 1e3;
  else if (unit == "ms")
    scale = 1e6;
  else if (unit == "s")
    scale = 1e9;
  else if (unit.empty() && n == 0)
    scale = 1;
  else if (unit.empty())
    throw bad("the unit is missing");
  else
    throw bad("unknown unit");
  const double ns = n * scale;
  if (ns > 1e18) throw bad("longer than 30 years");
  return ns;
}

SiteSpec parse_site_spec(std::string_view option, std::string_view v) {
  SiteSpec s;
  s.text = std::string(v);
  if (v.empty() || v.find('\0') != std::string_view::npos)
    throw UsageError(fmt::format("{} takes MODULE+0xOFFSET, FILE:LINE or a function name, not "
                                 "'{}'",
                                 option, shown(v)));
  const size_t plus = v.rfind("+0x");
  if (plus != std::string_view::npos) {
    const std::string_view hex = v.substr(plus + 3);
    uint64_t off = 0;
    auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), off, 16);
    if (plus == 0 || hex.empty() || ec != std::errc() || p != hex.data() + hex.size())
      throw UsageError(fmt::format("{}: '{}' is not MODULE+0xOFFSET (a module's file name, then "
                                   "'+0x' and a hex offset, as the report prints it)",
                                   option, shown(v)));
    s.kind = SiteSpec::Kind::module_offset;
    s.module = std::string(v.substr(0, plus));
    s.offset = off;
    return s;
  }
  const size_t colon = v.rfind(':');
  if (colon != std::string_view::npos && colon + 1 < v.size() && v[colon + 1] != ':' &&
      (colon == 0 || v[colon - 1] != ':')) {
    const std::string_view line = v.substr(colon + 1);
    int n = 0;
    auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), n);
    if (colon == 0 || !all_digits(line) || ec != std::errc() || n <= 0)
      throw UsageError(fmt::format("{}: '{}' is not FILE:LINE (a line number from 1 after the "
                                   "last ':')",
                                   option, shown(v)));
    s.kind = SiteSpec::Kind::file_line;
    s.file = std::string(v.substr(0, colon));
    s.line = n;
    return s;
  }
  s.kind = SiteSpec::Kind::function;
  s.function = std::string(v);
  return s;
}

bool SiteSpec::matches(const Frame& f) const {
  switch (kind) {
  case Kind::module_offset:
    return !f.module.empty() && f.offset == offset && base_name(f.module) == module;
  case Kind::file_line:
    if (f.line == line && file_is(f.file, file)) return true;
    for (const InlinedCall& c : f.inlined_into)
      if (c.line == line && file_is(c.file, file)) return true;
    return false;
  case Kind::function:
    if (function_is(f.function, function)) return true;
    for (const InlinedCall& c : f.inlined_into)
      if (function_is(c.function, function)) return true;
    return false;
  }
  return false;
}

bool site_matches(const std::vector<SiteSpec>& specs, const Frame& frame,
                  const std::optional<Frame>& caller) {
  for (const SiteSpec& s : specs)
    if (s.matches(frame) || (caller && s.matches(*caller))) return true;
  return false;
}

bool glob_matches(const std::string& glob, const std::string& name) {
  return ::fnmatch(glob.c_str(), name.c_str(), 0) == 0;
}

bool ProcessFilter::matches(uint32_t pid, const std::vector<std::string>& argv,
                            const std::string& exe) const {
  if (!pids.empty()) {
    bool any = false;
    for (uint32_t p : pids)
      any = any || p == pid;
    if (!any) return false;
  }
  if (commands.empty()) return true;
  const std::string arg0 = argv.empty() || argv[0].empty() ? "" : base_name(argv[0]);
  const std::string file = exe.empty() ? "" : base_name(exe);
  for (const std::string& g : commands)
    if ((!arg0.empty() && glob_matches(g, arg0)) || (!file.empty() && glob_matches(g, file)))
      return true;
  return false;
}

std::string ProcessFilter::describe() const {
  std::string s;
  for (uint32_t p : pids)
    s += fmt::format("{}--pid {}", s.empty() ? "" : " ", p);
  for (const std::string& g : commands)
    s += fmt::format("{}--command {}", s.empty() ? "" : " ", shell_join({g}));
  return s;
}

void parse_pids(std::string_view option, std::string_view v, std::vector<uint32_t>& pids) {
  size_t at = 0;
  while (at <= v.size()) {
    const size_t comma = std::min(v.find(',', at), v.size());
    uint32_t pid = 0;
    auto [p, ec] = std::from_chars(v.data() + at, v.data() + comma, pid);
    if (ec != std::errc() || p != v.data() + comma || pid == 0)
      throw UsageError(
          fmt::format("{} takes process ids (PID or PID,PID,…), not '{}'", option, shown(v)));
    pids.push_back(pid);
    at = comma + 1;
  }
}

std::string parse_glob(std::string_view option, std::string_view v) {
  if (v.empty() || v.find('\0') != std::string_view::npos)
    throw UsageError(fmt::format("{} takes a glob such as 'python3*', not '{}'", option, shown(v)));
  return std::string(v);
}

SortKey parse_sort(std::string_view option, std::string_view v) {
  if (v == "saving") return SortKey::saving;
  if (v == "calls") return SortKey::calls;
  if (v == "time") return SortKey::time;
  throw UsageError(fmt::format("{} takes saving, calls or time, not '{}'", option, shown(v)));
}

const char* sort_name(SortKey k) {
  switch (k) {
  case SortKey::saving:
    return "saving";
  case SortKey::calls:
    return "calls";
  case SortKey::time:
    return "time";
  }
  return "?";
}

} // namespace valley::advisor
