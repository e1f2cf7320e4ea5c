// SPDX-License-Identifier: MIT
#include "python/runtime.h"

#include "diag.h"
#include "options.h"
#include "recorder_internal.h"

#include <cstring>
#include <elf.h>
#include <link.h>

namespace valley::shim::py {

constinit Runtime g_runtime{};
constinit std::atomic<bool> g_active{false};

namespace {

constinit std::atomic<bool> g_decided{false};
constinit uint32_t g_state = 0, g_version = 0;

// An image's dynamic symbol table, as the loader left it in memory.
struct DynSyms {
  uintptr_t bias = 0;
  const ElfW(Sym) * symtab = nullptr;
  const char* strtab = nullptr;
  const uint32_t* gnu_hash = nullptr;
};

// glibc stores most d_ptr values relocated, the vdso's are not: an address below the bias is
// still a file address.
uintptr_t dyn_addr(uintptr_t bias, ElfW(Addr) p) { return p < bias ? bias + p : p; }

bool dyn_syms(const dl_phdr_info* info, DynSyms* out) {
  out->bias = info->dlpi_addr;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_DYNAMIC) continue;
    for (auto* d = reinterpret_cast<const ElfW(Dyn)*>(info->dlpi_addr + ph.p_vaddr);
         d->d_tag != DT_NULL; ++d) {
      const uintptr_t a = dyn_addr(info->dlpi_addr, d->d_un.d_ptr);
      if (d->d_tag == DT_SYMTAB)
        out->symtab = reinterpret_cast<const ElfW(Sym)*>(a);
      else if (d->d_tag == DT_STRTAB)
        out->strtab = reinterpret_cast<const char*>(a);
      else if (d->d_tag == DT_GNU_HASH)
        out->gnu_hash = reinterpret_cast<const uint32_t*>(a);
    }
  }
  return out->symtab && out->strtab && out->gnu_hash;
}

// The GNU hash table: buckets of symbol indices, chains of hashes whose low bit ends a chain.
uintptr_t lookup(const DynSyms& s, const char* name) {
  uint32_t h = 5381;
  for (const char* p = name; *p; ++p)
    h = h * 33 + static_cast<unsigned char>(*p);
  const uint32_t nbuckets = s.gnu_hash[0], symoffset = s.gnu_hash[1], bloom = s.gnu_hash[2];
  if (nbuckets == 0) return 0;
  const auto* buckets = reinterpret_cast<const uint32_t*>(
      reinterpret_cast<const ElfW(Addr)*>(s.gnu_hash + 4) + bloom);
  const uint32_t* chain = buckets + nbuckets;
  uint32_t i = buckets[h % nbuckets];
  if (i < symoffset) return 0;
  for (;; ++i) {
    const uint32_t ch = chain[i - symoffset];
    const ElfW(Sym)& sym = s.symtab[i];
    if ((ch | 1) == (h | 1) && strcmp(s.strtab + sym.st_name, name) == 0 &&
        sym.st_shndx != SHN_UNDEF)
      return s.bias + sym.st_value;
    if (ch & 1) return 0;
  }
}

struct Found {
  uintptr_t runtime, version, code, str, bytes;
};

int find_interpreter(dl_phdr_info* info, size_t, void* arg) {
  DynSyms s;
  if (!dyn_syms(info, &s)) return 0;
  auto* f = static_cast<Found*>(arg);
  f->runtime = lookup(s, "_PyRuntime");
  if (!f->runtime) return 0;
  f->version = lookup(s, "Py_Version");
  f->code = lookup(s, "PyCode_Type");
  f->str = lookup(s, "PyUnicode_Type");
  f->bytes = lookup(s, "PyBytes_Type");
  return 1;
}

} // namespace

void detect(Segment& seg) {
  static constinit std::atomic<bool> busy{false};
  if (g_decided.load(std::memory_order_acquire) || !g_opts.python || !seg.hdr) return;
  if (busy.exchange(true, std::memory_order_acquire)) return; // another thread is at it
  Found f{};
  const bool found = dl_iterate_phdr(find_interpreter, &f) != 0;
  if (found) g_decided.store(true, std::memory_order_release);
  busy.store(false, std::memory_order_release);
  if (!found) return;
  // Py_Version exists from 3.11 on: an older interpreter has no such symbol.
  g_version = f.version ? *reinterpret_cast<const uint32_t*>(f.version) : 0;
  const Layout* layout = layout_for(g_version);
  if (!layout || !f.code || !f.str || !f.bytes) {
    // The advisor tells the user from the header; stderr stays the program's.
    g_state = static_cast<uint32_t>(PyState::unsupported);
    if (g_opts.verbose) diag("no frame layout for this Python: native call sites only");
  } else {
    g_runtime = Runtime{layout, f.runtime, f.code, f.str, f.bytes};
    g_state = static_cast<uint32_t>(PyState::active);
  }
  note_state(seg);
  if (g_state == static_cast<uint32_t>(PyState::active))
    g_active.store(true, std::memory_order_release);
}

void note_state(Segment& seg) {
  if (!seg.hdr) return;
  seg.hdr->py_version = g_version;
  seg.hdr->py_state = g_state;
}

} // namespace valley::shim::py
