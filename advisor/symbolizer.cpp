// SPDX-License-Identifier: MIT
/// @file symbolizer.cpp
/// @brief elfutils libdwfl backend: one offline Dwfl session per module file, opened once.
#include "symbolizer.h"

#include "segment_reader.h"

#include <elfutils/libdwfl.h>
#include <fmt/format.h>

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

std::string basename_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

struct Resolved {
  std::string function, file;
  int line = 0;
};

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
    if (const char* name = dwfl_module_addrinfo(mod, vaddr, &off, &sym, nullptr, nullptr, nullptr))
      r.function = demangle(name);
    if (Dwfl_Line* line = dwfl_module_getsrc(mod, vaddr)) {
      int lineno = 0;
      if (const char* src = dwfl_lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr)) {
        r.file = src;
        r.line = lineno;
      }
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
  mf->mod = dwfl_report_elf(mf->dwfl, basename_of(path).c_str(), path.c_str(), -1, 0, true);
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
  return f;
}

std::string frame_text(const Frame& f) {
  if (f.module.empty()) return fmt::format("{:#x}", f.address);
  if (f.build_id_mismatch) return fmt::format("{}+{:#x} [build-id mismatch]", f.module, f.offset);
  std::string where = fmt::format("{}+{:#x}", basename_of(f.module), f.offset);
  if (f.function.empty()) return where;
  if (f.file.empty()) return fmt::format("{} ({})", f.function, where);
  return fmt::format("{} at {}:{}", f.function, f.file, f.line);
}

} // namespace valley::advisor
