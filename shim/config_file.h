// SPDX-License-Identifier: MIT
/// @file config_file.h
/// @brief valley.toml read inside the traced process: without toml++, allocation or
/// exceptions, a reader of the TOML subset valley.toml is written in (README: "valley.toml").
/// It accepts and rejects exactly what the advisor does; tests/config holds the shared corpus.
#pragma once

#include "coalesce/coalesce.h"

#include <cstddef>
#include <cstdint>

namespace valley::shim {

/// Where and why a valley.toml was refused. line and col count from 1; col counts characters
/// (UTF-8 code points), as toml++ does.
struct ConfigError {
  uint32_t line, col;
  char message[400];
};

/// Parses a whole valley.toml in text[0, n), applying its [coalesce] table on top of *out
/// (other tables are checked, then left to the advisor). On the first problem fills *err and
/// returns false; *out may then hold part of the file.
bool parse_config(const char* text, size_t n, CoalesceOptions* out, ConfigError* err);

/// Reads the file at path and parses it: never blocks (a FIFO, a device or a directory is
/// refused before any read) and never reads more than settings::kMaxFileBytes. On a problem
/// prints one `valley: error: PATH[:LINE:COL]: …; coalescing off` line, leaves *out unchanged
/// and returns false.
bool read_coalesce_config(const char* path, CoalesceOptions* out);

} // namespace valley::shim
