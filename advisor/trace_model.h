// SPDX-License-Identifier: MIT
/// @file trace_model.h
/// @brief One trace symbolized: its call sites with their frames (and callers, for calls made
/// inside a library), its stacks, and which FileRow described an fd when. `valley dump` shows
/// it; `valley report` merges it across processes.
#pragma once

#include "segment_reader.h"
#include "symbolizer.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace valley::advisor {

struct SiteModel {
  const SiteEntry* entry = nullptr;
  Frame frame;                  ///< the return address (a library frame for split sites)
  std::optional<Frame> caller;  ///< split sites: the first frame outside the library
  std::vector<uint32_t> stacks; ///< ids of the stacks captured for this site
  /// Python sites: the Python stack at first sight, innermost first (also at the top of each
  /// of the site's stacks, above the native frames).
  std::vector<Frame> python;
  /// Index in `python` of the program's own frame: the first one outside Python's standard
  /// library (logging's handler is not where the program logs), else the innermost.
  size_t program = 0;

  /// Where the program made the call: its Python frame for Python sites, the caller for split
  /// sites, else the frame.
  const Frame& location() const {
    if (!python.empty()) return python[program];
    return caller ? *caller : frame;
  }
};

struct TraceModel {
  std::map<uint32_t, SiteModel> sites;    ///< by site id
  std::vector<std::vector<Frame>> stacks; ///< by stack id - 1
  std::vector<uint32_t> orphan_stacks;    ///< stack ids whose site has no row
  /// FileRow ids by fd, in first_ticks order: an fd's rows change with open/close/dup.
  std::map<int32_t, std::vector<std::pair<uint64_t, uint32_t>>> files_by_fd;

  const SiteModel* site(uint32_t id) const {
    auto it = sites.find(id);
    return it == sites.end() ? nullptr : &it->second;
  }
  /// The id of the FileRow that described `fd` at `ticks`: the latest one classified by then.
  uint32_t file_at(int32_t fd, uint64_t ticks) const;
};

/// True for a file of Python's standard library ("/usr/lib/python3.11/logging/__init__.py",
/// "<frozen importlib._bootstrap>"), false for the program's own and for installed packages.
bool python_library_file(const std::string& file);

/// A Python site's stack as stored (innermost first): the rows [caller - 1, + count) as far as
/// they are complete and its own (a row a killed process left half written, or of another
/// site, ends it there). Empty for other sites.
std::vector<Frame> python_stack(const Trace& t, const SiteEntry& e);

/// The index of the program's own frame in a Python stack: the first outside the standard
/// library, else 0.
size_t python_program_frame(const std::vector<Frame>& python);

/// Symbolizes the sites and stacks of `t` (whose header must be valid).
TraceModel build_trace_model(const Trace& t, Symbolizer& symbolizer);

} // namespace valley::advisor
