// SPDX-License-Identifier: MIT
/// @file settings.h
/// @brief valley.toml as a plain struct: [advisor] thresholds and the [coalesce] table the shim
/// reads. Read with toml++ and checked against include/valley/settings.def exactly as the
/// shim checks it: both accept and refuse the same files, and every error names FILE:LINE:COL.
#pragma once

#include "valley/settings.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace valley::advisor {

/// A list setting's default, from the settings table.
std::vector<uint64_t> default_numbers(settings::Id id);
std::vector<std::string> default_strings(settings::Id id);

struct AdvisorSettings {
  using Id = settings::Id;
  uint64_t min_calls = settings::default_count(Id::min_calls);
  uint64_t small_write_bytes = settings::default_count(Id::small_write_bytes);
  uint64_t small_read_bytes = settings::default_count(Id::small_read_bytes);
  uint64_t large_io_bytes = settings::default_count(Id::large_io_bytes);
  double min_saving = settings::default_fraction(Id::min_saving);
  uint64_t gather_max_burst = settings::default_count(Id::gather_max_burst);
  double sequential_fraction = settings::default_fraction(Id::sequential_fraction);
  uint64_t datagram_batch = settings::default_count(Id::datagram_batch);
  uint64_t max_age_ms = settings::default_count(Id::replay_max_age);
  std::vector<uint64_t> buffer_sizes = default_numbers(Id::buffer_sizes); ///< sorted
  uint64_t top_stacks = settings::default_count(Id::top_stacks);
};

struct CoalesceSettings {
  using Id = settings::Id;
  bool enabled = settings::default_flag(Id::coalesce_enabled);
  uint64_t buffer_size = settings::default_count(Id::coalesce_size);
  uint64_t max_age_ms = settings::default_count(Id::coalesce_max_age);
  std::vector<std::string> kinds = default_strings(Id::coalesce_kinds);
  std::vector<std::string> paths = default_strings(Id::coalesce_paths);
  std::vector<std::string> sites = default_strings(Id::coalesce_sites);
  bool stdio = settings::default_flag(Id::coalesce_stdio);
  bool operator==(const CoalesceSettings&) const = default;
};

struct Settings {
  AdvisorSettings advisor;
  CoalesceSettings coalesce;
};

/// A config problem; what() is "FILE:LINE:COL: message", or "FILE: message" for a file that
/// could not be read at all.
struct SettingsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

Settings parse_settings(std::string_view text, const std::string& source);
/// Reads a regular file of at most settings::kMaxFileBytes, without blocking on a FIFO or a
/// device, and parses it.
Settings load_settings(const std::string& path);

/// Why `entry` cannot be written into a list setting (kinds, paths, sites) of valley.toml, or
/// "" if it can: the readers' check, plus valid UTF-8 (TOML text is UTF-8).
std::string entry_problem(settings::Id id, std::string_view entry);
/// The [coalesce] table, one `key = value` line per setting in the table's order, strings
/// escaped as TOML basic strings. Entries must pass entry_problem.
std::string format_coalesce(const CoalesceSettings& c);
/// Text made safe for one TOML comment line (control characters and invalid UTF-8 become '?').
std::string comment_text(std::string_view text);

} // namespace valley::advisor
