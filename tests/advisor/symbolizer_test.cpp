// SPDX-License-Identifier: MIT
// Offline symbolization against a real PIE and shared library (symbol_victim): the victim
// prints its module map and return addresses with their source lines; the symbolizer, in
// this other process, must find the same function and file:line.
#include "symbolizer.h"
#include "trace_builder.h"
#include "victim_map.h"

#include <gtest/gtest.h>

#include <cstring>

#include <sys/stat.h>

using namespace valley;
using namespace valley::advisor;
using valley::testing::module_index;
using valley::testing::run_victim;
using valley::testing::VictimMap;

namespace {

const VictimMap& victim() {
  static const VictimMap map = run_victim(VALLEY_SYMBOL_VICTIM);
  return map;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class SymbolizerTest : public ::testing::Test {
protected:
  void SetUp() override { ASSERT_EQ(victim().error, "") << victim().error; }
  std::vector<ModuleRow> modules = victim().modules;
  Symbolizer symbolizer;
};

TEST_F(SymbolizerTest, ResolvesFunctionAndLineInThePie) {
  Frame f = symbolizer.resolve(victim().exe.address, modules);
  EXPECT_EQ(f.function, "victim::outer_function(int*)");
  EXPECT_TRUE(ends_with(f.file, "symbol_victim.cpp")) << f.file;
  EXPECT_EQ(f.line, victim().exe.line);
  EXPECT_TRUE(ends_with(f.module, "valley_symbol_victim")) << f.module;
  const ModuleRow& exe = modules[module_index(victim(), "valley_symbol_victim")];
  EXPECT_EQ(f.offset, victim().exe.address - exe.bias);
  EXPECT_FALSE(f.build_id_mismatch);
  EXPECT_EQ(frame_text(f),
            "victim::outer_function(int*) at " + f.file + ":" + std::to_string(victim().exe.line));
}

TEST_F(SymbolizerTest, ResolvesFunctionAndLineInASharedLibrary) {
  Frame f = symbolizer.resolve(victim().lib.address, modules);
  EXPECT_EQ(f.function, "victim_lib::library_function(int*)");
  EXPECT_TRUE(ends_with(f.file, "symbol_victim_lib.cpp")) << f.file;
  EXPECT_EQ(f.line, victim().lib.line);
  EXPECT_TRUE(ends_with(f.module, "libvalley_symbol_victim_lib.so")) << f.module;
}

TEST_F(SymbolizerTest, WrongBuildIdIsNotSymbolized) {
  int exe = module_index(victim(), "valley_symbol_victim");
  ASSERT_GE(exe, 0);
  ASSERT_GT(modules[exe].build_id_len, 0u) << "the victim was linked without a build-id";
  modules[exe].build_id[0] ^= 0xff;
  Frame f = symbolizer.resolve(victim().exe.address, modules);
  EXPECT_TRUE(f.build_id_mismatch);
  EXPECT_EQ(f.function, "");
  char expected[64];
  std::snprintf(expected, sizeof expected, "+%#lx [build-id mismatch]",
                static_cast<unsigned long>(f.offset));
  EXPECT_EQ(frame_text(f), std::string(modules[exe].path) + expected);
}

TEST_F(SymbolizerTest, StrippedCopyGivesModuleAndOffset) {
  int exe = module_index(victim(), "valley_symbol_victim");
  ASSERT_GE(exe, 0);
  std::string stripped = std::string(VALLEY_SYMBOL_VICTIM) + ".stripped";
  ASSERT_LT(stripped.size(), sizeof modules[exe].path);
  std::strcpy(modules[exe].path, stripped.c_str());
  Frame f = symbolizer.resolve(victim().exe.address, modules);
  EXPECT_FALSE(f.build_id_mismatch) << "strip keeps the build-id";
  EXPECT_EQ(f.function, "");
  EXPECT_EQ(f.line, 0);
  char expected[64];
  std::snprintf(expected, sizeof expected, "valley_symbol_victim.stripped+%#lx",
                static_cast<unsigned long>(victim().exe.address - modules[exe].bias));
  EXPECT_EQ(frame_text(f), expected);
}

TEST_F(SymbolizerTest, MissingFileAndVdsoGiveBasenameAndOffset) {
  ModuleRow gone{};
  gone.bias = 0x10000;
  gone.lo = 0x10000;
  gone.hi = 0x20000;
  std::strcpy(gone.path, "/nonexistent/dir/libgone.so.1");
  ModuleRow vdso = gone;
  vdso.bias = vdso.lo = 0x30000;
  vdso.hi = 0x31000;
  std::strcpy(vdso.path, "linux-vdso.so.1");
  std::vector<ModuleRow> rows{gone, vdso};
  EXPECT_EQ(frame_text(symbolizer.resolve(0x10abc, rows)), "libgone.so.1+0xabc");
  EXPECT_EQ(frame_text(symbolizer.resolve(0x30010, rows)), "linux-vdso.so.1+0x10");
  EXPECT_EQ(frame_text(symbolizer.resolve(0x40000, rows)), "0x40000");
}

TEST_F(SymbolizerTest, DevicesAndFifosAreNotOpened) {
  valley::testing::TempDir dir;
  std::string fifo = (dir.path() / "libfifo.so").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ModuleRow m{};
  m.lo = m.bias = 0x10000;
  m.hi = 0x20000;
  std::strcpy(m.path, fifo.c_str());
  ModuleRow dev = m;
  dev.lo = dev.bias = 0x30000;
  dev.hi = 0x40000;
  std::strcpy(dev.path, "/dev/zero");
  std::vector<ModuleRow> rows{m, dev};
  EXPECT_EQ(frame_text(symbolizer.resolve(0x10010, rows)), "libfifo.so+0x10");
  EXPECT_EQ(frame_text(symbolizer.resolve(0x30010, rows)), "zero+0x10");
}

TEST_F(SymbolizerTest, LaterModuleRowsWin) {
  // The same range reused after dlclose + dlopen: the later row is the image that was there.
  ModuleRow old{};
  old.lo = old.bias = 0x10000;
  old.hi = 0x20000;
  std::strcpy(old.path, "/nonexistent/old.so");
  ModuleRow reloaded = old;
  std::strcpy(reloaded.path, "/nonexistent/new.so");
  std::vector<ModuleRow> rows{old, reloaded};
  EXPECT_EQ(frame_text(symbolizer.resolve(0x10010, rows)), "new.so+0x10");
  EXPECT_EQ(frame_text(symbolizer.resolve(0x10010, std::span(rows).first(1))), "old.so+0x10");
}

// What the report needs to tell users how to get names: the full victim has a symbol table
// and DWARF, its stripped copy neither; both have the build-id the trace recorded.
TEST_F(SymbolizerTest, ModuleSymbolsOfFullAndStrippedFiles) {
  int exe = module_index(victim(), "valley_symbol_victim");
  ASSERT_GE(exe, 0);
  std::string recorded;
  for (uint32_t i = 0; i < modules[exe].build_id_len; ++i) {
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", modules[exe].build_id[i]);
    recorded += hex;
  }
  auto full = symbolizer.symbols(VALLEY_SYMBOL_VICTIM);
  ASSERT_TRUE(full.has_value());
  EXPECT_TRUE(full->symtab);
  EXPECT_TRUE(full->debuginfo);
  EXPECT_EQ(full->build_id, recorded);
  auto stripped = symbolizer.symbols(std::string(VALLEY_SYMBOL_VICTIM) + ".stripped");
  ASSERT_TRUE(stripped.has_value());
  EXPECT_FALSE(stripped->symtab);
  EXPECT_FALSE(stripped->debuginfo);
  EXPECT_EQ(stripped->build_id, recorded);
  EXPECT_FALSE(symbolizer.symbols("/nonexistent/libnone.so").has_value());
}

Frame inlined_frame() {
  Frame f;
  f.module = "/opt/app/bin/client";
  f.offset = 0x1234;
  f.function = "send_request";
  f.file = "/src/app/client.c";
  f.line = 24;
  f.inlined_into = {{"serve_one", "/src/app/client.c", 31}, {"main", "/src/app/main.c", 40}};
  return f;
}

TEST(FrameText, InlineChainIsOneLinePerFunctionInnermostFirst) {
  Frame f = inlined_frame();
  EXPECT_EQ(frame_text(f), "send_request (inlined into serve_one) at /src/app/client.c:24");
  EXPECT_EQ(frame_text(f, SourcePaths::base),
            "send_request (inlined into serve_one) at client.c:24");
  EXPECT_EQ(frame_lines(f, SourcePaths::base),
            (std::vector<std::string>{"send_request (inlined into serve_one) at client.c:24",
                                      "serve_one (inlined into main) at client.c:31",
                                      "main at main.c:40"}));
  f.inlined_into.clear();
  EXPECT_EQ(frame_lines(f), std::vector<std::string>{"send_request at /src/app/client.c:24"});
}

// The site key tells apart the same line inlined into two callers, and equals for frames
// that print the same whatever their addresses.
TEST(FrameText, LocationKeyFollowsWhatIsPrinted) {
  Frame a = inlined_frame(), b = inlined_frame();
  b.offset = 0x5678;
  EXPECT_EQ(location_key(a), location_key(b));
  b.inlined_into[1].function = "other_main";
  EXPECT_NE(location_key(a), location_key(b));
  Frame bare;
  bare.module = "/usr/bin/dd";
  bare.offset = 0x5b7c;
  EXPECT_EQ(location_key(bare), "dd+0x5b7c");
}

} // namespace
