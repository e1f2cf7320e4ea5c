// SPDX-License-Identifier: MIT
#include "readers.h"

#include "config_file.h"
#include "options.h"

#include <algorithm>
#include <cstring>
#include <memory>

namespace valley::config_test {
namespace vs = valley::settings;

namespace {

std::vector<std::string> split(const char* list, char sep) {
  std::vector<std::string> out;
  if (!*list) return out;
  for (const char* p = list;;) {
    const char* end = std::strchr(p, sep);
    out.emplace_back(p, end ? static_cast<size_t>(end - p) : std::strlen(p));
    if (!end) return out;
    p = end + 1;
  }
}

// One label per kind, in kCoalescibleKinds' order: the shim keeps a set, the advisor a list.
std::vector<std::string> canonical(const std::vector<std::string>& kinds) {
  std::vector<std::string> out;
  for (FdKind k : vs::kCoalescibleKinds)
    if (std::find(kinds.begin(), kinds.end(), fd_kind_name(k)) != kinds.end())
      out.emplace_back(fd_kind_name(k));
  return out;
}

} // namespace

Verdict shim_reads(std::string_view text) {
  auto o = std::make_unique<shim::CoalesceOptions>();
  shim::coalesce_defaults(o.get());
  shim::ConfigError err{};
  Verdict v;
  v.ok = shim::parse_config(text.data(), text.size(), o.get(), &err);
  if (!v.ok) {
    v.line = err.line;
    v.col = err.col;
    v.message = err.message;
    return v;
  }
  v.values.enabled = o->on;
  v.values.stdio = o->stdio;
  v.values.buffer_size = o->size;
  v.values.max_age_ms = o->max_age_us / 1000;
  v.values.kinds.clear();
  for (FdKind k : vs::kCoalescibleKinds)
    if (o->kinds & (1u << static_cast<uint8_t>(k))) v.values.kinds.emplace_back(fd_kind_name(k));
  v.values.paths = split(o->paths, ':');
  v.values.sites = split(o->sites, ',');
  return v;
}

Verdict advisor_reads(std::string_view text) {
  Verdict v;
  try {
    v.values = advisor::parse_settings(text, "t.toml").coalesce;
    v.values.kinds = canonical(v.values.kinds);
    v.ok = true;
  } catch (const advisor::SettingsError& e) {
    const std::string what = e.what();
    unsigned line = 0, col = 0;
    int used = 0;
    if (std::sscanf(what.c_str(), "t.toml:%u:%u: %n", &line, &col, &used) == 2 && used > 0) {
      v.line = line;
      v.col = col;
      v.message = what.substr(static_cast<size_t>(used));
    } else {
      v.message = what;
    }
  }
  return v;
}

std::string describe(const Verdict& v) {
  if (!v.ok) return std::to_string(v.line) + ":" + std::to_string(v.col) + ": " + v.message;
  std::string s = "ok: enabled=" + std::to_string(v.values.enabled) +
                  " size=" + std::to_string(v.values.buffer_size) +
                  " age=" + std::to_string(v.values.max_age_ms) +
                  " stdio=" + std::to_string(v.values.stdio);
  for (const auto* list : {&v.values.kinds, &v.values.paths, &v.values.sites}) {
    s += " [";
    for (const std::string& x : *list)
      s += "'" + x + "' ";
    s += "]";
  }
  return s;
}

std::string disagreement(const Verdict& shim, const Verdict& advisor) {
  if (shim.ok == advisor.ok && (!shim.ok || shim.values == advisor.values)) return "";
  return "shim: " + describe(shim) + "\nadvisor: " + describe(advisor);
}

} // namespace valley::config_test
