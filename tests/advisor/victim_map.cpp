// SPDX-License-Identifier: MIT
/// @file victim_map.cpp
/// @brief Parser for symbol_victim's output (format in symbol_victim.cpp).
#include "victim_map.h"

#include "subprocess.h"

#include <cstring>
#include <sstream>

namespace valley::testing {

namespace {

bool parse_hex_bytes(const std::string& hex, ModuleRow& m) {
  if (hex == "-") return true;
  if (hex.size() % 2 || hex.size() / 2 > sizeof m.build_id) return false;
  for (size_t i = 0; i < hex.size() / 2; ++i)
    m.build_id[i] = static_cast<uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
  m.build_id_len = static_cast<uint32_t>(hex.size() / 2);
  return true;
}

} // namespace

VictimMap run_victim(const std::string& path) {
  VictimMap map;
  Outcome r = run({path});
  if (!r.exited(0)) {
    map.error = "victim failed: " + r.describe();
    return map;
  }
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string what;
    f >> what;
    if (what == "module") {
      ModuleRow m{};
      std::string p, build_id;
      int is_main = 0;
      f >> p >> std::hex >> m.bias >> m.lo >> m.hi >> build_id >> std::dec >> is_main;
      if (!f || !parse_hex_bytes(build_id, m) || p.size() >= sizeof m.path) {
        map.error = "bad line: " + line;
        return map;
      }
      std::memcpy(m.path, p.data(), p.size());
      m.is_main = static_cast<uint32_t>(is_main);
      map.modules.push_back(m);
    } else if (what == "site") {
      std::string which;
      VictimSite s;
      f >> which >> std::hex >> s.address >> std::dec >> s.line;
      (which == "exe" ? map.exe : map.lib) = s;
    }
  }
  if (map.modules.empty() || !map.exe.address || !map.lib.address)
    map.error = "incomplete victim output:\n" + r.out;
  return map;
}

int module_index(const VictimMap& m, const std::string& suffix) {
  for (size_t i = 0; i < m.modules.size(); ++i) {
    std::string p = m.modules[i].path;
    if (p.size() >= suffix.size() &&
        p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0)
      return static_cast<int>(i);
  }
  return -1;
}

} // namespace valley::testing
