// SPDX-License-Identifier: MIT
/// @file export.h
/// @brief `valley export`: a run directory as a Perfetto / Chrome trace (export-perfetto.md) or
/// as JSON Lines for query engines (export-jsonl.md). Both stream: memory grows with call
/// sites, fds and threads, never with events.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace valley::advisor {

struct ExportOptions {
  enum class Format { perfetto, jsonl };
  Format format = Format::perfetto;
  std::string dir;
  /// Calls that begin in [from_ns, to_ns], in ns since the run began (the earliest process).
  std::optional<int64_t> from_ns, to_ns;
  std::vector<uint32_t> pids; ///< only these processes; empty: all
  /// --command: only processes whose argv[0] or executable file name matches one of these
  /// globs (filters.h: ProcessFilter); empty: all
  std::vector<std::string> commands;
  bool events = false;        ///< jsonl: one record per event too
};

/// What an export saw, for the closing line and the exit status.
struct ExportSummary {
  uint64_t processes = 0;    ///< traces exported (after --pid)
  uint64_t records = 0;      ///< slices, counter points, lines…: what was written
  uint64_t overlapping = 0;  ///< perfetto: calls shown as instants (they overlap another call)
  uint64_t out_of_range = 0; ///< events whose time lies outside every plausible range
  std::vector<std::string> problems; ///< "FILE: message", for stderr
};

ExportSummary write_perfetto(const ExportOptions& o, std::FILE* out);
ExportSummary write_jsonl(const ExportOptions& o, std::FILE* out);

inline constexpr int kJsonlSchemaVersion = 1;

} // namespace valley::advisor
