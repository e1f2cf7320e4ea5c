// SPDX-License-Identifier: MIT
// The Python frame reader (shim/python/frames.cpp) against a fake CPython 3.11 built in this
// process with the same byte layout: it must name what is there, and with corrupted pointers
// (unmapped, PROT_NONE, misaligned, wrong type, cycles) never crash and never name a frame's
// function, file or line wrongly: a doubtful frame is cut or reads as unknown.
#include "python/frames.h"
#include "python/layout.h"
#include "python/mem.h"

#include <gtest/gtest.h>

#include <cstring>
#include <pthread.h>
#include <random>
#include <set>
#include <string>
#include <sys/mman.h>
#include <tuple>
#include <vector>

namespace valley::shim::py {
namespace {

const Layout& L = kPython311;

// Real CPython 3.11 data: co_linetable of
//   def sample(a, b):            # line 1
//       x = a + 1
//       if x > 3:
//           y = [i * 2 for i in range(b)]
//       else:
//           y = None
//
//       return (x,
//               y)
// (88 bytes of code) and its co_lines(): (start, end, line).
const std::vector<uint8_t> kSampleTable{
    0x80, 0x00, 0xd8, 0x08, 0x09, 0x88, 0x41, 0x89, 0x05, 0x80, 0x41, 0xd8, 0x07, 0x08,
    0x88, 0x31, 0x82, 0x75, 0x80, 0x75, 0xd8, 0x0c, 0x25, 0xd0, 0x0c, 0x25, 0x9d, 0x45,
    0xa0, 0x21, 0x99, 0x48, 0x9c, 0x48, 0xd0, 0x0c, 0x25, 0xd1, 0x0c, 0x25, 0xd4, 0x0c,
    0x25, 0x88, 0x01, 0x88, 0x01, 0xe0, 0x0c, 0x10, 0x88, 0x01, 0xe0, 0x0c, 0x0d, 0xd8,
    0x0c, 0x0d, 0xf0, 0x03, 0x01, 0x0c, 0x0f, 0xf0, 0x00, 0x01, 0x05, 0x0f};
const std::vector<std::tuple<int, int, int>> kSampleLines{
    {0, 2, 1},   {2, 4, 2},   {4, 6, 2},   {6, 10, 2},  {10, 12, 2}, {12, 14, 3}, {14, 16, 3},
    {16, 22, 3}, {22, 24, 3}, {24, 26, 4}, {26, 28, 4}, {28, 40, 4}, {40, 42, 4}, {42, 46, 4},
    {46, 56, 4}, {56, 58, 4}, {58, 62, 4}, {62, 72, 4}, {72, 74, 4}, {74, 76, 4}, {76, 78, 6},
    {78, 80, 6}, {80, 82, 8}, {82, 84, 9}, {84, 86, 8}, {86, 88, 8}};

// Objects live in one arena so that pointers into it are real and stay valid.
struct Arena {
  std::vector<std::vector<unsigned char>> blocks;
  unsigned char* alloc(size_t n) {
    blocks.emplace_back(n + 16, 0);
    auto p = reinterpret_cast<uintptr_t>(blocks.back().data());
    return reinterpret_cast<unsigned char*>((p + 15) & ~uintptr_t{15});
  }
};

template <class T> void put(unsigned char* base, uint32_t off, T v) {
  memcpy(base + off, &v, sizeof v);
}
uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

struct Types {
  alignas(16) unsigned char code[64], str[64], bytes[64], other[64];
};

struct Truth {
  std::string function, file;
  int line, first_line;
};

struct FakePython {
  Arena arena;
  Types types{};
  Runtime rt;
  pthread_key_t key{};
  unsigned char *runtime, *tstate, *cframe;
  std::vector<unsigned char*> frames, codes;
  std::vector<Truth> truth; // innermost first

  uintptr_t str(const std::string& s) {
    unsigned char* o = arena.alloc(L.str_ascii_data + s.size() + 1);
    put<uintptr_t>(o, L.ob_type, addr(types.str));
    put<int64_t>(o, L.str_length, static_cast<int64_t>(s.size()));
    put<uint32_t>(o, L.str_state, (1u << 2) | (1u << 5) | (1u << 6) | (1u << 7));
    memcpy(o + L.str_ascii_data, s.data(), s.size());
    return addr(o);
  }
  uintptr_t bytes(const std::vector<uint8_t>& b) {
    unsigned char* o = arena.alloc(L.bytes_data + b.size() + 1);
    put<uintptr_t>(o, L.ob_type, addr(types.bytes));
    put<int64_t>(o, L.ob_size, static_cast<int64_t>(b.size()));
    memcpy(o + L.bytes_data, b.data(), b.size());
    return addr(o);
  }
  unsigned char* code(const std::string& name, const std::string& file, int first_line) {
    unsigned char* o = arena.alloc(L.code_code + 88);
    put<uintptr_t>(o, L.ob_type, addr(types.code));
    put<int64_t>(o, L.ob_size, 44); // code units: 88 bytes
    put<int32_t>(o, L.code_firstlineno, first_line);
    put<uintptr_t>(o, L.code_filename, str(file));
    put<uintptr_t>(o, L.code_qualname, str(name));
    put<uintptr_t>(o, L.code_linetable, bytes(kSampleTable));
    put<int32_t>(o, L.code_firsttraceable, 0);
    return o;
  }

  // Three frames, innermost first, each running the sample code at a different offset.
  FakePython() {
    rt = Runtime{&L, 0, addr(types.code), addr(types.str), addr(types.bytes)};
    runtime = arena.alloc(1024);
    rt.runtime = addr(runtime);
    unsigned char* interp = arena.alloc(64);
    put<uintptr_t>(runtime, L.runtime_interp, addr(interp));
    EXPECT_EQ(pthread_key_create(&key, nullptr), 0);
    put<int32_t>(runtime, L.runtime_tss, 1);
    put<uint32_t>(runtime, L.runtime_tss + 4, static_cast<uint32_t>(key));
    tstate = arena.alloc(L.tstate_size);
    cframe = arena.alloc(32);
    put<uintptr_t>(tstate, L.tstate_interp, addr(interp));
    put<uint64_t>(tstate, L.tstate_thread_id, static_cast<uint64_t>(pthread_self()));
    put<uintptr_t>(tstate, L.tstate_cframe, addr(cframe));
    pthread_setspecific(key, tstate);
    const int offsets[] = {30, 13, 84}; // bytes into the code: lines 4, 3, 8 (from co_lines)
    const int firsts[] = {10, 40, 1};
    const char* names[] = {"Writer.put", "main", "<module>"};
    const char* files[] = {"/app/writer.py", "/app/main.py", "/app/run.py"};
    for (int i = 0; i < 3; ++i) {
      unsigned char* c = code(names[i], files[i], firsts[i]);
      unsigned char* f = arena.alloc(L.frame_size);
      put<uintptr_t>(f, L.frame_code, addr(c));
      // prev_instr points at the code unit being executed (even byte offsets only).
      put<uintptr_t>(f, L.frame_prev_instr, addr(c) + L.code_code + (offsets[i] & ~1));
      codes.push_back(c);
      frames.push_back(f);
      int line = 0;
      for (auto [s, e, l] : kSampleLines)
        if ((offsets[i] & ~1) >= s && (offsets[i] & ~1) < e) line = l;
      // The table's lines count from co_firstlineno (1 in the real function).
      truth.push_back({names[i], files[i], line - 1 + firsts[i], firsts[i]});
    }
    for (int i = 0; i < 3; ++i)
      put<uintptr_t>(frames[i], L.frame_previous, i + 1 < 3 ? addr(frames[i + 1]) : 0);
    put<uintptr_t>(cframe, L.cframe_current, addr(frames[0]));
    // Well formed in every field but its type: what a freed and reused code object can look like.
    impostor = code("Impostor.run", "/app/impostor.py", 900);
    put<uintptr_t>(impostor, L.ob_type, addr(types.other));
  }
  unsigned char* impostor = nullptr;
  ~FakePython() { pthread_key_delete(key); }
};

TEST(PythonFrames, LineTableMatchesCPythonsCoLines) {
  FakePython py;
  const uintptr_t table = addr(py.codes[0]) + 0; // any code's table is the sample table
  uintptr_t lt;
  memcpy(&lt, py.codes[0] + L.code_linetable, sizeof lt);
  (void)table;
  for (auto [s, e, l] : kSampleLines)
    for (int off = s; off < e; off += 2)
      EXPECT_EQ(line_at(py.rt, lt, 1, off), l) << "offset " << off;
  EXPECT_EQ(line_at(py.rt, lt, 1, 88), 0) << "past the end of the code";
  EXPECT_EQ(line_at(py.rt, lt, 100, 24), 103) << "lines count from co_firstlineno";
}

TEST(PythonFrames, ReadsTheFakeInterpretersStack) {
  FakePython py;
  EXPECT_EQ(thread_state(py.rt), addr(py.tstate));
  EXPECT_TRUE(thread_state_is_mine(py.rt, addr(py.tstate), static_cast<uint64_t>(pthread_self())));
  EXPECT_FALSE(
      thread_state_is_mine(py.rt, addr(py.tstate), static_cast<uint64_t>(pthread_self()) + 1));
  Key k{};
  ASSERT_TRUE(current_key(py.rt, addr(py.tstate), &k));
  EXPECT_EQ(k.code, addr(py.codes[0]));
  EXPECT_EQ(k.offset, 30u);
  FrameText out[8];
  ASSERT_EQ(read_stack(py.rt, addr(py.tstate), out, 8), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i].function, py.truth[i].function);
    EXPECT_EQ(out[i].file, py.truth[i].file);
    EXPECT_EQ(out[i].line, py.truth[i].line);
    EXPECT_EQ(out[i].first_line, py.truth[i].first_line);
  }
  EXPECT_EQ(py.truth[0].line, 13) << "offset 30 is line 4 of the sample, first line 10";
  // Another caller chain, same innermost frame: a different key.
  put<uintptr_t>(py.frames[1], L.frame_prev_instr, addr(py.codes[1]) + L.code_code + 80);
  Key k2{};
  ASSERT_TRUE(current_key(py.rt, addr(py.tstate), &k2));
  EXPECT_EQ(k2.code, k.code);
  EXPECT_EQ(k2.offset, k.offset);
  EXPECT_NE(k2.callers, k.callers);
}

TEST(PythonFrames, NoThreadStateNoKey) {
  FakePython py;
  pthread_setspecific(py.key, nullptr);
  EXPECT_EQ(thread_state(py.rt), 0u);
  put<int32_t>(py.runtime, L.runtime_tss, 0); // key not created yet
  EXPECT_EQ(thread_state(py.rt), 0u);
}

// Every corruption a torn or freed object could show. The reader may stop early or say "?"
// and 0, but whatever it names must be true of the frame at that depth.
TEST(PythonFrames, FuzzedPointersNeverCrashOrLie) {
  // Addresses that fault: a range unmapped again, and a PROT_NONE page.
  void* gone = mmap(nullptr, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(gone, MAP_FAILED);
  munmap(gone, 3 * 4096);
  void* none = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(none, MAP_FAILED);
  forget_pages();

  std::mt19937_64 rng(14);
  int named = 0, cut = 0;
  for (int round = 0; round < 4000; ++round) {
    FakePython py;
    std::vector<uintptr_t> bad{0,
                               1,
                               addr(gone) + 8,
                               addr(gone) + 4096 * 2 + 4090, // straddles into unmapped
                               addr(none),
                               addr(none) + 64,
                               addr(py.types.other),   // an object of another type
                               addr(py.frames[0]) + 3, // misaligned
                               addr(py.frames[0]),     // a cycle
                               addr(py.frames[2]),
                               uintptr_t{1} << 52, // non-canonical
                               ~uintptr_t{0} - 7,
                               rng()};
    auto pick = [&] { return bad[rng() % bad.size()]; };
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int c = 0; c < n; ++c) {
      const int fi = static_cast<int>(rng() % 3);
      switch (rng() % 10) {
      case 0:
        put<uintptr_t>(py.frames[fi], L.frame_code, pick());
        break;
      case 1:
        put<uintptr_t>(py.frames[fi], L.frame_previous, pick());
        break;
      case 2:
        put<uintptr_t>(py.frames[fi], L.frame_prev_instr, pick());
        break;
      case 3:
        put<uintptr_t>(py.codes[fi], L.code_qualname, pick());
        break;
      case 4:
        put<uintptr_t>(py.codes[fi], L.code_filename, pick());
        break;
      case 5:
        put<uintptr_t>(py.codes[fi], L.code_linetable, pick());
        break;
      case 6:
        put<uintptr_t>(py.codes[fi], L.ob_type, pick());
        break;
      case 7:
        put<int64_t>(py.codes[fi], L.ob_size, static_cast<int64_t>(rng()));
        break;
      case 8:
        put<uintptr_t>(py.cframe, L.cframe_current, pick());
        break;
      case 9: // a frame consistently pointing at an object of another type
        put<uintptr_t>(py.frames[fi], L.frame_code, addr(py.impostor));
        put<uintptr_t>(py.frames[fi], L.frame_prev_instr, addr(py.impostor) + L.code_code + 10);
        break;
      }
    }
    Key k{};
    (void)current_key(py.rt, addr(py.tstate), &k);
    FrameText out[kKeyFrames];
    const uint32_t got = read_stack(py.rt, addr(py.tstate), out, kKeyFrames);
    ASSERT_LE(got, kKeyFrames);
    // A named frame is one of the fake's frames, with that frame's own line or none.
    for (uint32_t i = 0; i < got; ++i) {
      bool ok = false;
      for (const Truth& t : py.truth) {
        const bool fn = std::string(out[i].function) == "?" || out[i].function == t.function;
        const bool file = std::string(out[i].file) == "?" || out[i].file == t.file;
        const bool first = out[i].first_line == t.first_line;
        const bool line = out[i].line == 0 || out[i].line == t.line;
        // A frame can only be told by its code's first line: it names that code's lines.
        if (first && fn && file && line) ok = true;
      }
      EXPECT_TRUE(ok) << "round " << round << " frame " << i << ": " << out[i].function << " at "
                      << out[i].file << ":" << out[i].line << " (first " << out[i].first_line
                      << ")";
      if (out[i].line) ++named;
    }
    if (got < 3) ++cut;
  }
  EXPECT_GT(named, 0);
  EXPECT_GT(cut, 0);
  munmap(none, 4096);
}

} // namespace
} // namespace valley::shim::py

namespace valley::shim::py {
namespace {

// Only 3.11 has a layout: any other Py_Version (3.10 has none at all: 0) is never read.
TEST(PythonFrames, OnlyKnownVersionsHaveALayout) {
  EXPECT_EQ(layout_for(0x030B02F0), &kPython311); // Debian 12's 3.11.2
  EXPECT_EQ(layout_for(0x030B07F0), &kPython311);
  EXPECT_EQ(layout_for(0), nullptr);
  EXPECT_EQ(layout_for(0x030A0CF0), nullptr);
  EXPECT_EQ(layout_for(0x030C00F0), nullptr);
  EXPECT_EQ(layout_for(0x030D01F0), nullptr);
}

} // namespace
} // namespace valley::shim::py
