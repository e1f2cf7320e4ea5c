// SPDX-License-Identifier: MIT
/// @file settings.cpp
/// @brief toml++ → Settings; every key is known, every value checked, every error located.
#include "settings.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace valley::advisor {
namespace {

const std::vector<std::string> kKinds = {"file", "pipe", "fifo", "tcp", "unix-stream"};

[[noreturn]] void fail(const std::string& src, const toml::source_region& r, const std::string& m) {
  throw SettingsError(fmt::format("{}:{}:{}: {}", src, r.begin.line, r.begin.column, m));
}

struct Table {
  const toml::table& t;
  const std::string& src;
  std::string name;

  const toml::node* get(std::string_view key) const { return t.get(key); }

  uint64_t integer(std::string_view key, uint64_t lo, uint64_t hi, uint64_t def) const {
    const toml::node* n = get(key);
    if (!n) return def;
    auto v = n->value<int64_t>();
    if (!n->is_integer() || !v || *v < 0 || static_cast<uint64_t>(*v) < lo ||
        static_cast<uint64_t>(*v) > hi)
      fail(src, n->source(), fmt::format("'{}.{}' must be an integer in {}..{}", name, key, lo, hi));
    return static_cast<uint64_t>(*v);
  }
  double fraction(std::string_view key, double def) const {
    const toml::node* n = get(key);
    if (!n) return def;
    auto v = n->value<double>();
    if (!(n->is_floating_point() || n->is_integer()) || !v || *v < 0 || *v > 1)
      fail(src, n->source(), fmt::format("'{}.{}' must be a number in 0..1", name, key));
    return *v;
  }
  bool boolean(std::string_view key, bool def) const {
    const toml::node* n = get(key);
    if (!n) return def;
    if (!n->is_boolean()) fail(src, n->source(), fmt::format("'{}.{}' must be true or false", name, key));
    return *n->value<bool>();
  }
  std::vector<std::string> strings(std::string_view key, std::vector<std::string> def,
                                   const std::vector<std::string>* allowed = nullptr) const {
    const toml::node* n = get(key);
    if (!n) return def;
    const toml::array* a = n->as_array();
    if (!a) fail(src, n->source(), fmt::format("'{}.{}' must be a list of strings", name, key));
    std::vector<std::string> out;
    for (const toml::node& e : *a) {
      if (!e.is_string())
        fail(src, e.source(), fmt::format("'{}.{}' must be a list of strings", name, key));
      std::string s = *e.value<std::string>();
      if (allowed && std::find(allowed->begin(), allowed->end(), s) == allowed->end())
        fail(src, e.source(), fmt::format("'{}.{}': unknown kind '{}' (one of: {})", name, key, s,
                                          fmt::join(*allowed, ", ")));
      if (s.find('"') != std::string::npos || s.find('\\') != std::string::npos)
        fail(src, e.source(), fmt::format("'{}.{}': quotes and backslashes are not allowed", name, key));
      out.push_back(std::move(s));
    }
    return out;
  }
  void only(std::initializer_list<std::string_view> keys) const {
    for (auto&& [k, v] : t)
      if (std::find(keys.begin(), keys.end(), k.str()) == keys.end())
        fail(src, k.source(), fmt::format("unknown key '{}' in [{}] (known: {})", k.str(), name,
                                          fmt::join(keys, ", ")));
  }
};

} // namespace

Settings parse_settings(std::string_view text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    fail(source, e.source(), std::string(e.description()));
  }
  Settings s;
  for (auto&& [k, v] : root) {
    if (k.str() != "advisor" && k.str() != "coalesce")
      fail(source, k.source(), fmt::format("unknown table '{}' (known: advisor, coalesce)", k.str()));
    if (!v.is_table()) fail(source, k.source(), fmt::format("'{}' must be a table", k.str()));
  }
  if (const toml::table* a = root["advisor"].as_table()) {
    Table t{*a, source, "advisor"};
    t.only({"min_calls", "small_write_bytes", "small_read_bytes", "large_io_bytes", "min_saving",
            "gather_max_burst", "sequential_fraction", "datagram_batch", "max_age_ms",
            "buffer_sizes", "top_stacks"});
    AdvisorSettings& o = s.advisor;
    o.min_calls = t.integer("min_calls", 1, 1ull << 40, o.min_calls);
    o.small_write_bytes = t.integer("small_write_bytes", 1, 1u << 30, o.small_write_bytes);
    o.small_read_bytes = t.integer("small_read_bytes", 1, 1u << 30, o.small_read_bytes);
    o.large_io_bytes = t.integer("large_io_bytes", 1, 1u << 30, o.large_io_bytes);
    o.min_saving = t.fraction("min_saving", o.min_saving);
    o.gather_max_burst = t.integer("gather_max_burst", 2, 1024, o.gather_max_burst);
    o.sequential_fraction = t.fraction("sequential_fraction", o.sequential_fraction);
    o.datagram_batch = t.integer("datagram_batch", 2, 1024, o.datagram_batch);
    o.max_age_ms = t.integer("max_age_ms", 1, 1000, o.max_age_ms);
    o.top_stacks = t.integer("top_stacks", 0, 16, o.top_stacks);
    if (const toml::node* n = a->get("buffer_sizes")) {
      const toml::array* arr = n->as_array();
      if (!arr || arr->empty())
        fail(source, n->source(), "'advisor.buffer_sizes' must be a non-empty list of integers");
      o.buffer_sizes.clear();
      for (const toml::node& e : *arr) {
        auto v = e.value<int64_t>();
        if (!e.is_integer() || !v || *v < 512 || *v > (1 << 20))
          fail(source, e.source(), "'advisor.buffer_sizes' entries must be 512..1048576 bytes");
        o.buffer_sizes.push_back(static_cast<uint64_t>(*v));
      }
      std::sort(o.buffer_sizes.begin(), o.buffer_sizes.end());
    }
    if (o.small_write_bytes > o.large_io_bytes || o.small_read_bytes > o.large_io_bytes)
      fail(source, a->source(), "small_*_bytes must not exceed large_io_bytes");
  }
  if (const toml::table* c = root["coalesce"].as_table()) {
    Table t{*c, source, "coalesce"};
    t.only({"enabled", "buffer_size", "max_age_ms", "kinds", "paths", "sites", "stdio"});
    CoalesceSettings& o = s.coalesce;
    o.enabled = t.boolean("enabled", o.enabled);
    o.buffer_size = t.integer("buffer_size", 512, 1u << 20, o.buffer_size);
    o.max_age_ms = t.integer("max_age_ms", 1, 1000, o.max_age_ms);
    o.kinds = t.strings("kinds", o.kinds, &kKinds);
    o.paths = t.strings("paths", o.paths);
    o.sites = t.strings("sites", o.sites);
    o.stdio = t.boolean("stdio", o.stdio);
  }
  return s;
}

Settings load_settings(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SettingsError(fmt::format("{}:1:1: cannot read the file", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_settings(ss.str(), path);
}

} // namespace valley::advisor
