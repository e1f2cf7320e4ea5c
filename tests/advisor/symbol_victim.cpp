// SPDX-License-Identifier: MIT
// Ground truth for symbolizer_test: a PIE that prints its module map as ModuleRow fields
// (dl_iterate_phdr: path, bias, PT_LOAD range, GNU build-id) and two return addresses with
// the function and source line they belong to:
//   module <path> <bias> <lo> <hi> <build-id hex or -> <is_main>
//   site exe|lib <address> <line>
// Built -O0 -g so every call stays a real call with its own return address.
#include "symbol_victim.h"

#include <cinttypes>
#include <climits>
#include <cstdio>
#include <cstring>
#include <elf.h>
#include <link.h>
#include <unistd.h>

namespace {

// Stores rather than returns, so that nothing of the call's line follows the call: the return
// address then belongs to the next line, and only address - 1 finds the call's line.
__attribute__((noinline)) void capture_return_address(void** out) {
  *out = __builtin_return_address(0);
}

void print_build_id(const dl_phdr_info* info) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    auto* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
    const char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      auto* n = reinterpret_cast<const ElfW(Nhdr)*>(p);
      const char* name = p + sizeof(ElfW(Nhdr));
      const char* desc = name + ((n->n_namesz + 3) & ~3u);
      if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
        for (unsigned j = 0; j < n->n_descsz; ++j)
          std::printf("%02x", static_cast<unsigned char>(desc[j]));
        return;
      }
      p = desc + ((n->n_descsz + 3) & ~3u);
    }
  }
  std::printf("-");
}

int print_module(dl_phdr_info* info, size_t, void* data) {
  int* index = static_cast<int*>(data);
  char exe[PATH_MAX] = {};
  const char* path = info->dlpi_name;
  bool is_main = *index == 0; // the main program comes first, with an empty name
  if (is_main) {
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    path = n > 0 ? exe : "?";
  }
  uint64_t lo = UINT64_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uint64_t start = info->dlpi_addr + ph.p_vaddr;
    if (start < lo) lo = start;
    if (start + ph.p_memsz > hi) hi = start + ph.p_memsz;
  }
  std::printf("module %s %" PRIx64 " %" PRIx64 " %" PRIx64 " ", path[0] ? path : "-",
              static_cast<uint64_t>(info->dlpi_addr), lo, hi);
  print_build_id(info);
  std::printf(" %d\n", is_main ? 1 : 0);
  ++*index;
  return 0;
}

} // namespace

namespace victim {
__attribute__((noinline)) void* outer_function(int* line) {
  void* ra = nullptr;
  capture_return_address(&ra);
  *line = __LINE__ - 1; // the line of the call above
  return ra;
}
} // namespace victim

int main() {
  int index = 0;
  dl_iterate_phdr(print_module, &index);
  int line = 0;
  void* ra = victim::outer_function(&line);
  std::printf("site exe %" PRIxPTR " %d\n", reinterpret_cast<uintptr_t>(ra), line);
  ra = victim_lib::library_function(&line);
  std::printf("site lib %" PRIxPTR " %d\n", reinterpret_cast<uintptr_t>(ra), line);
  return 0;
}
