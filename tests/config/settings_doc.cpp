// SPDX-License-Identifier: MIT
#include "settings_doc.h"

#include "valley/settings.h"

#include <fmt/format.h>

#include <cctype>

namespace valley::config_test {
namespace vs = valley::settings;
using vs::Type;

namespace {

std::string type_name(const vs::Setting& s) {
  switch (s.type) {
  case Type::flag:
    return "flag";
  case Type::count:
    return "integer";
  case Type::fraction:
    return "number";
  case Type::path:
  case Type::external:
    return "path";
  case Type::kinds:
    return "list of fd kinds";
  case Type::globs:
    return "list of globs";
  case Type::sites:
    return "list of call sites";
  case Type::sizes:
    return "list of integers";
  }
  return "";
}

std::string range(const vs::Setting& s) {
  const std::string unit = s.unit[0] ? std::string(" ") + s.unit : "";
  switch (s.type) {
  case Type::flag:
    return s.env[0] ? (s.key[0] ? "0 or 1; false or true" : "0 or 1") : "false or true";
  case Type::count:
    return fmt::format("{} … {}{}", s.min, s.max, unit);
  case Type::fraction:
    return "0 … 1";
  case Type::kinds:
    return "file, pipe, fifo, tcp, unix-stream";
  case Type::globs:
  case Type::sites:
  case Type::sizes:
    return fmt::format("{} … {}{}", s.min, s.max, unit);
  case Type::path:
  case Type::external:
    return "";
  }
  return "";
}

// The default as the environment writes it (a flag as 0 or 1), then as valley.toml does.
std::string default_text(const vs::Setting& s) {
  if (!s.def[0]) return "—";
  if (s.type != Type::flag || !s.env[0]) return fmt::format("`{}`", s.def);
  const char* digit = vs::default_flag(s.id) ? "1" : "0";
  return s.key[0] ? fmt::format("`{}` / `{}`", digit, s.def) : fmt::format("`{}`", digit);
}

// What a valley.toml value must be, for the file's comments.
std::string toml_type(const vs::Setting& s) {
  const std::string unit = s.unit[0] ? std::string(" ") + s.unit : "";
  switch (s.type) {
  case Type::flag:
    return "true or false";
  case Type::count:
    return fmt::format("an integer in {} … {}{}", s.min, s.max, unit);
  case Type::fraction:
    return "a number in 0 … 1";
  case Type::kinds:
    return "a list of: file, pipe, fifo, tcp, unix-stream";
  case Type::globs:
    return fmt::format("a list of globs of {} … {}{}", s.min, s.max, unit);
  case Type::sites:
    return fmt::format("a list of call sites of {} … {}{}", s.min, s.max, unit);
  case Type::sizes:
    return fmt::format("a list of integers in {} … {}{}", s.min, s.max, unit);
  case Type::path:
  case Type::external:
    return "a path";
  }
  return "";
}

std::string code(const std::string& s) { return s.empty() ? "—" : "`" + s + "`"; }

// A list in a VALLEY_* variable: its entries joined by the list's separator.
std::string env_form(const vs::Setting& s) {
  if (!vs::is_list(s.type) || !s.env[0]) return "";
  return fmt::format(" (`{}`-separated)", vs::separator(s.type));
}

} // namespace

std::string readme_table() {
  std::string out = "| variable | valley.toml | type | range | default | meaning |\n"
                    "|---|---|---|---|---|---|\n";
  for (const vs::Setting& s : vs::kSettings) {
    const std::string r = range(s);
    out += fmt::format("| {} | {} | {}{} | {} | {} | {} |\n", code(s.env), code(s.key),
                       type_name(s), env_form(s), r.empty() ? "—" : r, default_text(s), s.help);
  }
  return out;
}

std::string reference_toml() {
  std::string out =
      "# valley settings; generated from include/valley/settings.def (tests/config checks it).\n"
      "# `valley report --config FILE` and `valley run --config FILE` read this file; the shim\n"
      "# reads it from $VALLEY_CONFIG and applies its [coalesce] table, where VALLEY_COALESCE*\n"
      "# variables override it. It is TOML in the subset both readers take (README: valley.toml):\n"
      "# one `key = value` per line under [advisor] or [coalesce]; true/false, integers, numbers,\n"
      "# \"strings\" or 'strings', [lists] on one line; comments anywhere after a '#'.\n"
      "# Every key is optional; the value shown is its default.\n";
  for (const char* table : vs::kTables) {
    out += fmt::format("\n[{}]\n", table);
    for (const vs::Setting& s : vs::kSettings) {
      if (std::string_view(s.key).substr(0, vs::table_length(s)) != table) continue;
      out += fmt::format("# {}{}.\n# {}", static_cast<char>(std::toupper(s.help[0])), s.help + 1,
                         toml_type(s));
      out += s.env[0] ? fmt::format("; environment: {}{}\n", s.env, env_form(s)) : "\n";
      out += fmt::format("{} = {}\n", vs::key_name(s), s.def);
    }
  }
  return out;
}

} // namespace valley::config_test
