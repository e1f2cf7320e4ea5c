// SPDX-License-Identifier: MIT
/// @file symbolizer.cpp
/// @brief elfutils libdwfl backend: one offline Dwfl session per module file, opened once.
#include "symbolizer.h"

#include "segment_reader.h"
#include "text.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fmt/format.h>
#include <gelf.h>

#include <cstdlib>
#include <cstring>
#include <cxxabi.h>
#include <filesystem>
#include <unordered_map>

namespace valley::advisor {

namespace {

char* debuginfo_path = nullptr; // libdwfl's default: .debug next to the file, /usr/lib/debug

const Dwfl_Callbacks kOfflineCallbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

std::string demangle(std::string name) {
  // Versioned dynamic symbols come as "name@@GLIBC_2.34"; the version is noise here.
  if (size_t at = name.find('@'); at != std::string::npos && at > 0) name.resize(at);
  int status = 0;
  char* out = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
  if (status != 0 || out == nullptr) return name;
  std::string s(out);
  std::free(out);
  return s;
}

struct Resolved {
  std::string function, file;
  int line = 0;
  std::vector<InlinedCall> inlined_into;
};

// A function's name as the symbol table spells it (the demangled linkage name), else its
// DWARF name. Both may sit on the abstract origin or the declaration, hence _integrate.
std::string die_function_name(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  const char* name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
  if (!name) name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
  if (name) return demangle(name);
  name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
  return name ? name : "";
}

bool is_function(Dwarf_Die* die) {
  int tag = dwarf_tag(die);
  return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine || tag == DW_TAG_entry_point;
}

// The inline chain at `vaddr` (S-07): when the innermost function there is an inlined instance, its
// name and, for it and each enclosing inlined instance, the function it was inlined into with
// the call's file:line (DW_AT_call_file/line). dwarf_getscopes stops at the innermost inlined
// instance and continues with its abstract definition, so the concrete chain is taken from
// that instance's own scopes (dwarf_getscopes_die), as eu-addr2line -i does.
void inline_chain(Dwfl_Module* mod, uint64_t vaddr, Resolved& r) {
  Dwarf_Addr bias = 0;
  Dwarf_Die* cu = dwfl_module_addrdie(mod, vaddr, &bias);
  if (!cu) return;
  Dwarf_Die* scopes = nullptr;
  int n = dwarf_getscopes(cu, vaddr - bias, &scopes);
  if (n <= 0) {
    std::free(scopes);
    return;
  }
  Dwarf_Die innermost = scopes[0];
  std::free(scopes);
  scopes = nullptr;
  n = dwarf_getscopes_die(&innermost, &scopes);
  std::vector<Dwarf_Die*> fns;
  for (int i = 0; i < n; ++i)
    if (is_function(&scopes[i])) fns.push_back(&scopes[i]);
  Dwarf_Files* files = nullptr;
  size_t nfiles = 0;
  if (fns.size() >= 2 && dwarf_tag(fns[0]) == DW_TAG_inlined_subroutine &&
      dwarf_getsrcfiles(cu, &files, &nfiles) == 0) {
    r.function = die_function_name(fns[0]);
    for (size_t i = 0; i + 1 < fns.size() && dwarf_tag(fns[i]) == DW_TAG_inlined_subroutine; ++i) {
      InlinedCall c;
      c.function = die_function_name(fns[i + 1]);
      Dwarf_Attribute attr;
      Dwarf_Word v = 0;
      if (dwarf_formudata(dwarf_attr(fns[i], DW_AT_call_file, &attr), &v) == 0 && v < nfiles)
        if (const char* src = dwarf_filesrc(files, v, nullptr, nullptr)) c.file = src;
      if (dwarf_formudata(dwarf_attr(fns[i], DW_AT_call_line, &attr), &v) == 0)
        c.line = static_cast<int>(v);
      r.inlined_into.push_back(std::move(c));
    }
  }
  std::free(scopes);
}

// Whether a compilation unit covers `vaddr`. Past the end of a unit's code (crt1's _start
// after the program's last function) libdwfl still answers with the unit's last line.
bool in_a_unit(Dwfl_Module* mod, uint64_t vaddr) {
  Dwarf_Addr bias = 0;
  Dwarf_Die* cu = dwfl_module_addrdie(mod, vaddr, &bias);
  // A unit without address attributes cannot be checked: trust the line table.
  return cu && dwarf_haspc(cu, vaddr - bias) != 0;
}

bool has_symtab(Elf* elf) {
  Elf_Scn* scn = nullptr;
  while (elf && (scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr shdr;
    if (gelf_getshdr(scn, &shdr) && shdr.sh_type == SHT_SYMTAB) return true;
  }
  return false;
}

} // namespace

struct Symbolizer::ModuleFile {
  Dwfl* dwfl = nullptr;
  Dwfl_Module* mod = nullptr;
  std::string build_id;                         ///< raw bytes; empty when the file has none
  std::unordered_map<uint64_t, Resolved> cache; ///< by file vaddr

  ~ModuleFile() {
    if (dwfl) dwfl_end(dwfl);
  }

  const Resolved& lookup(uint64_t vaddr) {
    auto [it, fresh] = cache.try_emplace(vaddr);
    if (!fresh) return it->second;
    Resolved& r = it->second;
    GElf_Off off = 0;
    GElf_Sym sym{};
    std::string symbol;
    if (const char* name = dwfl_module_addrinfo(mod, vaddr, &off, &sym, nullptr, nullptr, nullptr))
      symbol = demangle(name);
    if (Dwfl_Line* line = in_a_unit(mod, vaddr) ? dwfl_module_getsrc(mod, vaddr) : nullptr) {
      int lineno = 0;
      if (const char* src = dwfl_lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr)) {
        r.file = src;
        r.line = lineno;
      }
      inline_chain(mod, vaddr, r);
    }
    if (r.inlined_into.empty()) {
      r.function = symbol;
    } else if (!symbol.empty()) {
      // The outermost function is the one the symbol table names: spell it the same way as
      // frames that were not inlined.
      r.inlined_into.back().function = symbol;
    }
    return r;
  }
};

Symbolizer::Symbolizer() = default;
Symbolizer::~Symbolizer() = default;

Symbolizer::ModuleFile* Symbolizer::open(const std::string& path) {
  auto [it, fresh] = files_.try_emplace(path);
  if (!fresh) return it->second.get();
  // Only absolute paths are files; the loader also names images that have none (vdso).
  if (path.empty() || path[0] != '/') return nullptr;
  // The path comes from an untrusted trace: a FIFO or device there must not hang or flood us.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return nullptr;
  auto mf = std::make_unique<ModuleFile>();
  mf->dwfl = dwfl_begin(&kOfflineCallbacks);
  if (!mf->dwfl) return nullptr;
  dwfl_report_begin(mf->dwfl);
  // Base 0 relative to p_vaddr: module addresses are then the file's own virtual addresses,
  // also for prelinked libraries whose first PT_LOAD is not at 0.
  mf->mod = dwfl_report_elf(mf->dwfl, base_name(path).c_str(), path.c_str(), -1, 0, true);
  dwfl_report_end(mf->dwfl, nullptr, nullptr);
  if (!mf->mod) return nullptr;
  const unsigned char* bits = nullptr;
  GElf_Addr vaddr = 0;
  int n = dwfl_module_build_id(mf->mod, &bits, &vaddr);
  if (n > 0) mf->build_id.assign(reinterpret_cast<const char*>(bits), static_cast<size_t>(n));
  it->second = std::move(mf);
  return it->second.get();
}

Frame Symbolizer::resolve(uint64_t address, std::span<const ModuleRow> modules) {
  Frame f;
  f.address = address;
  const ModuleRow* m = nullptr;
  for (auto it = modules.rbegin(); it != modules.rend(); ++it) {
    if (it->lo <= address && address < it->hi) {
      m = &*it;
      break;
    }
  }
  if (!m) return f;
  f.module = std::string(fixed_string(m->path));
  f.offset = address - m->bias;
  ModuleFile* mf = open(f.module);
  if (!mf) return f;
  if (m->build_id_len > 0) {
    std::string_view recorded(reinterpret_cast<const char*>(m->build_id),
                              std::min<size_t>(m->build_id_len, sizeof(m->build_id)));
    if (recorded != mf->build_id) {
      f.build_id_mismatch = true;
      return f;
    }
  }
  // A return address points after the call; one byte back is inside the call instruction.
  const Resolved& r = mf->lookup(f.offset - 1);
  f.function = r.function;
  f.file = r.file;
  f.line = r.line;
  f.inlined_into = r.inlined_into;
  return f;
}

std::optional<ModuleSymbols> Symbolizer::symbols(const std::string& path) {
  ModuleFile* mf = open(path);
  if (!mf) return std::nullopt;
  ModuleSymbols s;
  for (unsigned char c : mf->build_id)
    s.build_id += fmt::format("{:02x}", c);
  GElf_Addr bias = 0;
  s.symtab = has_symtab(dwfl_module_getelf(mf->mod, &bias));
  Dwarf_Addr dbias = 0;
  if (Dwarf* dw = dwfl_module_getdwarf(mf->mod, &dbias)) {
    s.debuginfo = true;
    s.symtab = s.symtab || has_symtab(dwarf_getelf(dw));
  }
  return s;
}

namespace {

std::string source(const std::string& file, SourcePaths paths) {
  return paths == SourcePaths::base ? base_name(file) : file;
}

// "name at file:line", "name" without a file; `inlined_into` names the caller, if any.
std::string function_text(const std::string& name, const std::string& inlined_into,
                          const std::string& file, int line, SourcePaths paths) {
  std::string s = name.empty() ? std::string("??") : name;
  if (!inlined_into.empty()) s += fmt::format(" (inlined into {})", inlined_into);
  if (!file.empty()) s += fmt::format(" at {}:{}", source(file, paths), line);
  return s;
}

} // namespace

std::string module_offset_name(const Frame& f) {
  return fmt::format("{}+{:#x}", base_name(f.module), f.offset);
}

std::string frame_text(const Frame& f, SourcePaths paths) {
  if (f.python) {
    const std::string file = paths == SourcePaths::base ? base_name(f.file) : f.file;
    if (f.line > 0) return fmt::format("{} at {}:{} (python)", f.function, file, f.line);
    return fmt::format("{} at {} (python)", f.function, file);
  }
  if (f.module.empty()) return fmt::format("{:#x}", f.address);
  if (f.build_id_mismatch) return fmt::format("{}+{:#x} [build-id mismatch]", f.module, f.offset);
  std::string where = module_offset_name(f);
  if (f.function.empty()) return where;
  const std::string caller = f.inlined_into.empty() ? "" : f.inlined_into.front().function;
  if (f.file.empty()) {
    if (caller.empty()) return fmt::format("{} ({})", f.function, where);
    return fmt::format("{} (inlined into {}) ({})", f.function, caller, where);
  }
  return function_text(f.function, caller, f.file, f.line, paths);
}

std::vector<std::string> frame_lines(const Frame& f, SourcePaths paths) {
  std::vector<std::string> out{frame_text(f, paths)};
  for (size_t i = 0; i < f.inlined_into.size(); ++i) {
    const InlinedCall& c = f.inlined_into[i];
    const std::string caller = i + 1 < f.inlined_into.size() ? f.inlined_into[i + 1].function : "";
    out.push_back(function_text(c.function, caller, c.file, c.line, paths));
  }
  return out;
}

std::string location_key(const Frame& f) {
  if (f.python) return fmt::format("python:{}:{}:{}", f.file, f.function, f.line);
  if (f.module.empty()) return fmt::format("{:#x}", f.address);
  if (f.build_id_mismatch || f.function.empty() || f.file.empty() || f.line <= 0)
    return module_offset_name(f);
  std::string k = fmt::format("{}:{}:{}:{}", base_name(f.module), f.function, f.file, f.line);
  for (const InlinedCall& c : f.inlined_into)
    k += fmt::format("<{}:{}:{}", c.function, c.file, c.line);
  return k;
}

} // namespace valley::advisor
