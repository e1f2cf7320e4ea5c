// SPDX-License-Identifier: MIT
/// @file readers.h
/// @brief Both valley.toml readers behind one face, for the shared corpus and the fuzz
/// targets: the shim's (shim/config_file.cpp, no toml++) and the advisor's (toml++).
#pragma once

#include "settings.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace valley::config_test {

struct Verdict {
  bool ok = false;
  uint32_t line = 0, col = 0;       ///< where the error is (ok: 0)
  std::string message;              ///< the error without its FILE:LINE:COL
  advisor::CoalesceSettings values; ///< [coalesce] as read (ok only); kinds in canonical order
};

Verdict shim_reads(std::string_view text);
Verdict advisor_reads(std::string_view text);

/// Empty if both readers accept with the same [coalesce] values or both refuse; otherwise
/// what differs.
std::string disagreement(const Verdict& shim, const Verdict& advisor);
std::string describe(const Verdict& v);

} // namespace valley::config_test
