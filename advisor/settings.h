// SPDX-License-Identifier: MIT
/// @file settings.h
/// @brief valley.toml as a plain struct: [advisor] thresholds and the [coalesce] table the shim
/// reads. Unknown keys and bad values are errors that name FILE:LINE:COL.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace valley::advisor {

struct AdvisorSettings {
  uint64_t min_calls = 100;            ///< calls from one site before any finding
  uint64_t small_write_bytes = 1024;   ///< median write size below which writes are small
  uint64_t small_read_bytes = 1024;    ///< median read size below which reads are small
  uint64_t large_io_bytes = 16384;     ///< median size at or above which a site is never flagged
  double min_saving = 0.3;             ///< fraction of a site's syscalls a finding must save
  uint64_t gather_max_burst = 8;       ///< writes in a burst before a read, at most
  double sequential_fraction = 0.8;    ///< share of preads continuing the previous one
  uint64_t datagram_batch = 32;        ///< messages per sendmmsg/recvmmsg in the prediction
  uint64_t max_age_ms = 5;             ///< replay: a buffered byte waits at most this long
  std::vector<uint64_t> buffer_sizes = {4096, 16384, 65536, 262144, 1048576}; ///< replay
  uint64_t top_stacks = 3;             ///< stacks shown per finding
};

struct CoalesceSettings {
  bool enabled = false;
  uint64_t buffer_size = 65536;
  uint64_t max_age_ms = 5;
  std::vector<std::string> kinds = {"file"};
  std::vector<std::string> paths;
  std::vector<std::string> sites;
  bool stdio = false; ///< also buffer fds 0-2 (only for programs that do not mix stdio with write)
};

struct Settings {
  AdvisorSettings advisor;
  CoalesceSettings coalesce;
};

/// A config problem; what() is "FILE:LINE:COL: message".
struct SettingsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

Settings parse_settings(std::string_view text, const std::string& source);
Settings load_settings(const std::string& path);

} // namespace valley::advisor
