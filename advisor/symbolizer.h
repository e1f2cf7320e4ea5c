// SPDX-License-Identifier: MIT
/// @file symbolizer.h
/// @brief Offline symbolization of recorded return addresses through the module map of the
/// traced process (HAZARDS.md S-04): address → module → file vaddr → function, file:line, and
/// the chain of functions the code was inlined into (as `eu-addr2line -i` shows it; S-07).
#pragma once

#include "valley/format.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace valley::advisor {

/// A function that inlined the code at an address, and the position of the inlined call in it.
struct InlinedCall {
  std::string function; ///< demangled; empty when the debug info has no name
  std::string file;     ///< empty when unknown
  int line = 0;         ///< 0 when unknown
};

struct Frame {
  uint64_t address = 0; ///< as recorded, absolute in the traced process
  std::string module;   ///< module path as recorded; empty when no module holds the address
  uint64_t offset = 0;  ///< address - bias: the return address as a file virtual address
  std::string function; ///< demangled, innermost: the inlined function when the code was inlined
  std::string file;     ///< source file; empty when unknown
  int line = 0;         ///< 0 when unknown
  bool build_id_mismatch = false; ///< the file on disk is not the one that was loaded
  /// A Python frame (read by the shim from the interpreter): `function` is its qualified name,
  /// `file` and `line` the Python source, `first_line` the function's first line; no module.
  bool python = false;
  int first_line = 0;
  /// The functions `function` was inlined into, innermost first: [0] calls `function` at its
  /// file:line, the last one is the function the machine code belongs to. Empty when
  /// `function` was not inlined (or the module has no debug info).
  std::vector<InlinedCall> inlined_into;
};

/// How source files are printed: as recorded in the debug info, or by their file name only.
enum class SourcePaths { full, base };

/// "libfoo.so+0x1f": the module's file name and the return address minus its load bias, in
/// lower-case hex. The one spelling of a site without names: the report prints it, and the
/// shim's [coalesce] sites list matches it.
std::string module_offset_name(const Frame& f);

/// One line for a frame: "func at file:line", "func (inlined into caller) at file:line",
/// "func (lib.so+0x1f)", "lib.so+0x1f", "/usr/lib/x.so+0x1f [build-id mismatch]", or "0x7f…"
/// outside every module.
std::string frame_text(const Frame& f, SourcePaths paths = SourcePaths::full);

/// The frame as a stack shows it: one line per function, the inlined ones first, then each
/// function they were inlined into ("send_request (inlined into main) at client.c:24", then
/// "main at client.c:40"). One line, frame_text(), when nothing was inlined.
std::vector<std::string> frame_lines(const Frame& f, SourcePaths paths = SourcePaths::full);

/// A key that is the same for two frames exactly when they print the same: the module's file
/// name with every function and file:line of the inline chain, or "module+0xOFFSET" when the
/// frame has no source line.
std::string location_key(const Frame& f);

/// What a module file offers for names, for telling the user how to get them.
struct ModuleSymbols {
  bool symtab = false;    ///< a full symbol table (.symtab), in the file or its debug file
  bool debuginfo = false; ///< DWARF found (in the file, next to it, or under /usr/lib/debug)
  std::string build_id;   ///< hex; empty when the file has none
};

class Symbolizer {
public:
  Symbolizer();
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  /// Resolves a return address recorded while `modules` were the loaded images. Later rows
  /// win: a range can be reused after dlclose + dlopen. Cached per (module file, offset).
  Frame resolve(uint64_t address, std::span<const ModuleRow> modules);

  /// What the module file at `path` has for names; nullopt when it cannot be opened.
  std::optional<ModuleSymbols> symbols(const std::string& path);

private:
  struct ModuleFile;
  ModuleFile* open(const std::string& path);
  std::map<std::string, std::unique_ptr<ModuleFile>> files_; ///< by path; null: unusable
};

} // namespace valley::advisor
