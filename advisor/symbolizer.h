// SPDX-License-Identifier: MIT
/// @file symbolizer.h
/// @brief Offline symbolization of recorded return addresses through the module map of the
/// traced process (HAZARDS.md S-04): address → module → file vaddr → function, file:line.
#pragma once

#include "valley/format.h"

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>

namespace valley::advisor {

struct Frame {
  uint64_t address = 0; ///< as recorded, absolute in the traced process
  std::string module;   ///< module path as recorded; empty when no module holds the address
  uint64_t offset = 0;  ///< address - bias: the return address as a file virtual address
  std::string function; ///< demangled; empty when unknown
  std::string file;     ///< source file; empty when unknown
  int line = 0;         ///< 0 when unknown
  bool build_id_mismatch = false; ///< the file on disk is not the one that was loaded
};

/// One line for a frame: "func at file:line", "func (lib.so+0x1f)", "lib.so+0x1f",
/// "/usr/lib/x.so+0x1f [build-id mismatch]", or "0x7f…" outside every module.
std::string frame_text(const Frame& f);

class Symbolizer {
public:
  Symbolizer();
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  /// Resolves a return address recorded while `modules` were the loaded images. Later rows
  /// win: a range can be reused after dlclose + dlopen.
  Frame resolve(uint64_t address, std::span<const ModuleRow> modules);

private:
  struct ModuleFile;
  ModuleFile* open(const std::string& path);
  std::map<std::string, std::unique_ptr<ModuleFile>> files_; ///< by path; null: unusable
};

} // namespace valley::advisor
