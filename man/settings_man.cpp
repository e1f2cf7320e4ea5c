// SPDX-License-Identifier: MIT
/// @file settings_man.cpp
/// @brief Writes libvalley(7) from man/libvalley.7.in with its settings generated from
/// include/valley/settings.def, as README's table and config/valley.toml are.
/// usage: valley_man_settings IN OUT VERSION
#include "valley/settings.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace {

namespace vs = valley::settings;
using vs::Type;

/// Text for roff: backslashes doubled, a leading dot or quote kept literal, hyphens as \-,
/// markdown's `code` in bold, and every character outside ASCII as \[uXXXX] so that the page
/// renders without preconv.
std::string roff(const std::string& s) {
  std::string out;
  bool code = false;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '\\')
        out += "\\e";
      else if (c == '-')
        out += "\\-";
      else if (c == '`')
        out += (code = !code) ? "\\fB" : "\\fR";
      else if ((c == '.' || c == '\'') && (out.empty() || out.back() == '\n'))
        out += "\\&", out += static_cast<char>(c);
      else
        out += static_cast<char>(c);
      ++i;
      continue;
    }
    const size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    uint32_t cp = c & (n == 4 ? 0x07 : n == 3 ? 0x0F : 0x1F);
    for (size_t k = 1; k < n && i + k < s.size(); ++k)
      cp = cp << 6 | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    char buf[16];
    std::snprintf(buf, sizeof buf, "\\[u%04X]", cp);
    out += buf;
    i += n;
  }
  if (code) out += "\\fR";
  return out;
}

std::string type_text(const vs::Setting& s, bool env) {
  const std::string unit = s.unit[0] ? std::string(" ") + s.unit : "";
  auto range = [&] { return std::to_string(s.min) + " to " + std::to_string(s.max) + unit; };
  switch (s.type) {
  case Type::flag:
    return env ? "0 or 1" : "false or true";
  case Type::count:
    return "integer, " + range();
  case Type::fraction:
    return "number, 0 to 1";
  case Type::path:
  case Type::external:
    return "path";
  case Type::kinds:
    return "list of fd kinds (file, pipe, fifo, tcp, unix-stream)";
  case Type::globs:
    return "list of globs of " + range();
  case Type::sites:
    return "list of call sites of " + range();
  case Type::sizes:
    return "list of integers, " + range();
  }
  return "";
}

/// The default as the environment writes it: a flag as 0 or 1, a list as its joined entries.
std::string env_default(const vs::Setting& s) {
  if (s.type == Type::flag) return vs::default_flag(s.id) ? "1" : "0";
  if (!vs::is_list(s.type)) return s.def;
  std::string out;
  for (const char* p = s.def; *p; ++p) {
    if (*p == ',')
      out += vs::separator(s.type);
    else if (*p != '[' && *p != ']' && *p != '"' && *p != ' ')
      out += *p;
  }
  return out.empty() ? "none" : out;
}

std::string entry(const vs::Setting& s, bool env) {
  std::string out = ".TP\n.B " + roff(env ? s.env : vs::key_name(s)) + "\n";
  out += roff(s.help) + ".\n.br\n";
  std::string facts = type_text(s, env);
  if (vs::is_list(s.type) && env)
    facts += std::string(", separated by '") + vs::separator(s.type) + "'";
  if (s.def[0]) facts += "; default " + (env ? env_default(s) : std::string(s.def));
  if (env && s.key[0]) facts += std::string("; in valley.toml: ") + s.key;
  if (!env && s.env[0]) facts += std::string("; environment: ") + s.env;
  return out + roff(facts) + ".\n";
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: valley_man_settings IN OUT VERSION\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::cerr << "valley_man_settings: cannot read " << argv[1] << "\n";
    return 1;
  }
  std::ostringstream page;
  for (std::string line; std::getline(in, line);) {
    if (line == ".\\\" @ENVIRONMENT@") {
      for (const vs::Setting& s : vs::kSettings)
        if (s.env[0]) page << entry(s, true);
    } else if (line == ".\\\" @TOML@") {
      for (const char* table : vs::kTables) {
        page << ".SS [" << table << "]\n";
        for (const vs::Setting& s : vs::kSettings)
          if (std::string_view(s.key).substr(0, vs::table_length(s)) == table)
            page << entry(s, false);
      }
    } else {
      for (size_t at; (at = line.find("@VERSION@")) != std::string::npos;)
        line.replace(at, 9, argv[3]);
      page << line << "\n";
    }
  }
  std::ofstream out(argv[2], std::ios::trunc);
  out << page.str();
  if (!out.flush()) {
    std::cerr << "valley_man_settings: cannot write " << argv[2] << "\n";
    return 1;
  }
  return 0;
}
