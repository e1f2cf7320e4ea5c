// SPDX-License-Identifier: MIT
/// @file victim_map.h
/// @brief Runs symbol_victim and turns what it prints into ModuleRows and known call sites.
#pragma once

#include "valley/format.h"

#include <string>
#include <vector>

namespace valley::testing {

struct VictimSite {
  uint64_t address = 0; ///< a return address
  int line = 0;         ///< the source line of its call
};

struct VictimMap {
  std::vector<ModuleRow> modules; ///< in dl_iterate_phdr order, the PIE first
  VictimSite exe, lib;
  std::string error; ///< non-empty when the victim could not be run or parsed
};

VictimMap run_victim(const std::string& path);

/// The index of the first module whose path ends with `suffix`, or -1.
int module_index(const VictimMap& m, const std::string& suffix);

} // namespace valley::testing
