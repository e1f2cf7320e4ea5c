// SPDX-License-Identifier: MIT
/// @file filters.h
/// @brief What `--pid`, `--command`, `--site`, `--min-saving` and `--sort` of report, dump and
/// export take, parsed and matched in one place so the commands agree on their meaning.
#pragma once

#include "symbolizer.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace valley::advisor {

/// "5ms", "1s", "200us" (or "200µs"), "1.5s", "750ns", "0": nanoseconds. A number without a
/// unit is refused: "5" could mean any of them. Throws UsageError naming `option` and `v`.
double parse_duration(std::string_view option, std::string_view v);

/// Where a call was made, as a user names it on the command line:
/// - `MODULE+0xOFFSET`: a return address as the report prints it (module file name, offset
///   from the load bias), the spelling of `[coalesce] sites`;
/// - `FILE:LINE`: a source line; FILE is a file name or the end of a path ("src/app.c");
/// - anything else: a function name (demangled, with or without its parameter list).
struct SiteSpec {
  enum class Kind { module_offset, file_line, function } kind = Kind::function;
  std::string text;   ///< as given, for messages
  std::string module; ///< module_offset: the module's file name
  uint64_t offset = 0;
  std::string file; ///< file_line
  int line = 0;
  std::string function;

  /// A frame matches when it (or a function it was inlined into) is the spec.
  bool matches(const Frame& f) const;
};

/// Throws UsageError naming `option` when `v` is empty or not one of the forms above.
SiteSpec parse_site_spec(std::string_view option, std::string_view v);

/// True when one of `specs` matches the frame of a site or, for a call made inside a library,
/// the first frame outside it.
bool site_matches(const std::vector<SiteSpec>& specs, const Frame& frame,
                  const std::optional<Frame>& caller);

/// `--pid` and `--command`: which processes a command looks at. Several values of one option
/// are alternatives; the two options together must both hold.
struct ProcessFilter {
  std::vector<uint32_t> pids;
  /// fnmatch(3) globs (no flags: '*' also matches '/'), matched against the file name of
  /// argv[0] and against the file name of the executable: either may match.
  std::vector<std::string> commands;

  bool active() const { return !pids.empty() || !commands.empty(); }
  /// `argv` empty and `exe` empty: the command is unknown (an unreadable header), so a
  /// `--command` filter leaves the process out.
  bool matches(uint32_t pid, const std::vector<std::string>& argv, const std::string& exe) const;
  /// "--pid 12 --command 'sh*'": how the output names the filter.
  std::string describe() const;
};

/// "12" or "12,13,…" appended to `pids`; throws UsageError naming `option`.
void parse_pids(std::string_view option, std::string_view v, std::vector<uint32_t>& pids);
/// A glob for --command: not empty, no NUL; throws UsageError naming `option`.
std::string parse_glob(std::string_view option, std::string_view v);

/// fnmatch(3) of `name` against `glob`, no flags.
bool glob_matches(const std::string& glob, const std::string& name);

enum class SortKey { saving, calls, time };
/// "saving", "calls" or "time"; throws UsageError naming `option`.
SortKey parse_sort(std::string_view option, std::string_view v);
const char* sort_name(SortKey k);

} // namespace valley::advisor
