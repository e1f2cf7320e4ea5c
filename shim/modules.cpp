// SPDX-License-Identifier: MIT
#include "modules.h"

#include "python/runtime.h"
#include "sys.h"

#include <cstring>
#include <elf.h>
#include <link.h>

namespace valley::shim {
namespace {

constinit std::atomic<bool> g_refreshing{false};
uint64_t g_self_lo = 0, g_self_hi = 0;

void read_build_id(const dl_phdr_info* info, ModuleRow& row) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const char* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
    const char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      auto* n = reinterpret_cast<const ElfW(Nhdr)*>(p);
      const char* name = p + sizeof(ElfW(Nhdr));
      const char* desc = name + ((n->n_namesz + 3) & ~3u);
      const char* next = desc + ((n->n_descsz + 3) & ~3u);
      if (next > end) break;
      if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
        row.build_id_len = n->n_descsz < sizeof row.build_id ? n->n_descsz : sizeof row.build_id;
        memcpy(row.build_id, desc, row.build_id_len);
        return;
      }
      p = next;
    }
  }
}

// The runtime address range [lo, hi) covered by an image's PT_LOAD segments.
bool load_range(const dl_phdr_info* info, uint64_t* lo, uint64_t* hi) {
  *lo = ~uint64_t{0};
  *hi = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uint64_t a = info->dlpi_addr + ph.p_vaddr;
    if (a < *lo) *lo = a;
    if (a + ph.p_memsz > *hi) *hi = a + ph.p_memsz;
  }
  return *hi != 0;
}

int find_self(dl_phdr_info* info, size_t, void*) {
  uint64_t lo, hi;
  const uint64_t self = reinterpret_cast<uint64_t>(&in_self);
  if (!load_range(info, &lo, &hi) || self < lo || self >= hi) return 0;
  g_self_lo = lo;
  g_self_hi = hi;
  return 1;
}

int add_module(dl_phdr_info* info, size_t, void* arg) {
  auto& seg = *static_cast<Segment*>(arg);
  SegmentHeader* h = seg.hdr;
  uint64_t lo, hi;
  if (!load_range(info, &lo, &hi)) return 0;
  const uint32_t used = at(h->modules_used).load(std::memory_order_acquire);
  for (uint32_t i = used; i-- > 0;)
    if (seg.modules[i].lo == lo && seg.modules[i].bias == info->dlpi_addr) return 0;
  if (used >= h->modules.capacity || !segment_ensure(seg, &seg.modules[used], sizeof(ModuleRow))) {
    at(h->modules_full).fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  ModuleRow& row = seg.modules[used];
  row = ModuleRow{};
  row.bias = info->dlpi_addr;
  row.lo = lo;
  row.hi = hi;
  const char* name = info->dlpi_name;
  // The loader names the main program "" (and sometimes argv[0]); its entry comes first.
  if (used == 0 || !name || !*name) {
    row.is_main = used == 0 ? 1 : 0;
    if (row.is_main) sys::readlink("/proc/self/exe", row.path, sizeof row.path - 1);
    else str_copy(row.path, name ? name : "", sizeof row.path);
  } else {
    str_copy(row.path, name, sizeof row.path);
  }
  read_build_id(info, row);
  at(h->modules_used).store(used + 1, std::memory_order_release);
  return 0;
}

} // namespace

void modules_refresh(Segment& seg) {
  if (g_refreshing.exchange(true, std::memory_order_acquire)) return;
  const uint32_t before = at(seg.hdr->modules_used).load(std::memory_order_relaxed);
  dl_iterate_phdr(add_module, &seg);
  g_refreshing.store(false, std::memory_order_release);
  // A libpython loaded by dlopen (an embedding program) is found here.
  if (at(seg.hdr->modules_used).load(std::memory_order_relaxed) != before) py::detect(seg);
}

int module_of(Segment& seg, uint64_t addr, bool refresh) {
  for (int pass = 0; pass < 2; ++pass) {
    const uint32_t used = at(seg.hdr->modules_used).load(std::memory_order_acquire);
    for (uint32_t i = used; i-- > 0;)
      if (addr >= seg.modules[i].lo && addr < seg.modules[i].hi) return static_cast<int>(i);
    if (!refresh) break;
    modules_refresh(seg);
  }
  return -1;
}

void find_self_range() {
  if (!g_self_hi) dl_iterate_phdr(find_self, nullptr);
}

bool in_self(uint64_t addr) { return addr >= g_self_lo && addr < g_self_hi; }

} // namespace valley::shim
