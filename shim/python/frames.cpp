// SPDX-License-Identifier: MIT
#include "python/frames.h"

#include "python/mem.h"

#include <cstring>
#include <pthread.h>

namespace valley::shim::py {
namespace {

constexpr uint32_t kMaxCodeUnits = 1u << 24; // a bigger code object is a corrupted one
constexpr uint32_t kMaxLineTable = 1u << 20;
constexpr uint32_t kMaxStrLength = 1u << 16;
constexpr uint32_t kCodeHead = 176; // enough of a code object for every field read

bool aligned(uintptr_t p) { return p != 0 && (p & 7) == 0; }

template <class T> T field(const unsigned char* base, uint32_t off) {
  T v;
  memcpy(&v, base + off, sizeof v);
  return v;
}

struct Frame {
  uintptr_t code, previous, prev_instr;
  uint8_t owner;
};

struct Code {
  int32_t first_line;
  uintptr_t filename, qualname, linetable;
  int64_t units; // ob_size: code units in co_code_adaptive
  int32_t first_traceable;
};

// The hot path reads single fields (a compare and a load each once the page is known) rather
// than copying whole objects.
__attribute__((always_inline)) inline bool read_frame(const Layout& l, uintptr_t at, Frame* f) {
  if (!aligned(at)) return false;
  unsigned char raw[96];
  const unsigned char* p = reinterpret_cast<const unsigned char*>(at);
  if (!known_readable(at, l.frame_size)) {
    if (l.frame_size > sizeof raw || !read(at, raw, l.frame_size)) return false;
    p = raw;
  }
  f->code = field<uintptr_t>(p, l.frame_code);
  f->previous = field<uintptr_t>(p, l.frame_previous);
  f->prev_instr = field<uintptr_t>(p, l.frame_prev_instr);
  f->owner = field<uint8_t>(p, l.frame_owner);
  return true;
}

// Just what current_key needs: the type, the size and the first traceable instruction.
__attribute__((always_inline)) inline bool read_code_bounds(const Runtime& rt, uintptr_t at,
                                                            Code* c) {
  const Layout& l = *rt.layout;
  if (!aligned(at)) return false;
  const uint32_t end = l.code_firsttraceable + 4;
  unsigned char raw[kCodeHead];
  const unsigned char* p = reinterpret_cast<const unsigned char*>(at);
  if (!known_readable(at, end)) {
    if (end > sizeof raw || !read(at, raw, end)) return false;
    p = raw;
  }
  if (field<uintptr_t>(p, l.ob_type) != rt.code_type) return false;
  c->units = field<int64_t>(p, l.ob_size);
  c->first_traceable = field<int32_t>(p, l.code_firsttraceable);
  return c->units > 0 && c->units < kMaxCodeUnits && c->first_traceable >= 0 &&
         c->first_traceable <= c->units;
}

bool read_code(const Runtime& rt, uintptr_t at, Code* c) {
  const Layout& l = *rt.layout;
  unsigned char raw[kCodeHead];
  if (!aligned(at) || !read(at, raw, sizeof raw)) return false;
  if (field<uintptr_t>(raw, l.ob_type) != rt.code_type) return false;
  c->units = field<int64_t>(raw, l.ob_size);
  c->first_line = field<int32_t>(raw, l.code_firstlineno);
  c->filename = field<uintptr_t>(raw, l.code_filename);
  c->qualname = field<uintptr_t>(raw, l.code_qualname);
  c->linetable = field<uintptr_t>(raw, l.code_linetable);
  c->first_traceable = field<int32_t>(raw, l.code_firsttraceable);
  return c->units > 0 && c->units < kMaxCodeUnits && c->first_traceable >= 0 &&
         c->first_traceable <= c->units;
}

// The byte offset of the frame's current instruction in its code, or -1 when the frame is not
// running an instruction of that code (incomplete, or a pointer outside it).
int64_t instr_offset(const Layout& l, uintptr_t code_at, const Code& c, const Frame& f) {
  const uintptr_t start = code_at + l.code_code;
  if (f.prev_instr < start || (f.prev_instr - start) % 2 != 0) return -1;
  const uintptr_t off = f.prev_instr - start;
  if (off >= static_cast<uintptr_t>(c.units) * 2) return -1;
  // A frame still setting up (3.11's _PyFrame_IsIncomplete) has not reached its first
  // traceable instruction; generators' frames are complete once they exist.
  if (f.owner != l.owner_generator && off < static_cast<uintptr_t>(c.first_traceable) * 2)
    return -1;
  return static_cast<int64_t>(off);
}

__attribute__((always_inline)) inline uintptr_t first_frame(const Layout& l, uintptr_t tstate) {
  uintptr_t cframe = 0, frame = 0;
  if (!aligned(tstate) || !read_as(tstate + l.tstate_cframe, &cframe)) return 0;
  if (!aligned(cframe) || !read_as(cframe + l.cframe_current, &frame)) return 0;
  return frame;
}

// A byte source over a bytes object's data, read through py::read a block at a time.
struct Bytes {
  uintptr_t at = 0;
  uint32_t size = 0, pos = 0, have = 0, base = 0;
  unsigned char buf[256];
  bool failed = false;

  int next() {
    if (pos >= size) return -1;
    if (pos >= base + have) {
      base = pos;
      have = size - pos < sizeof buf ? size - pos : static_cast<uint32_t>(sizeof buf);
      if (!read(at + pos, buf, have)) {
        failed = true;
        return -1;
      }
    }
    return buf[pos++ - base];
  }
  // 6-bit little-endian groups, bit 6 set on every group but the last.
  bool varint(uint32_t* v) {
    int b = next();
    if (b < 0 || (b & 0x80)) return false;
    uint32_t val = b & 63, shift = 0;
    while (b & 64) {
      b = next();
      shift += 6;
      if (b < 0 || (b & 0x80) || shift > 30) return false;
      val |= static_cast<uint32_t>(b & 63) << shift;
    }
    *v = val;
    return true;
  }
  bool svarint(int32_t* v) {
    uint32_t u;
    if (!varint(&u)) return false;
    *v = (u & 1) ? -static_cast<int32_t>(u >> 1) : static_cast<int32_t>(u >> 1);
    return true;
  }
  bool skip(uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) {
      int b = next();
      if (b < 0 || (b & 0x80)) return false;
    }
    return true;
  }
};

void put_unknown(char* out) { memcpy(out, "?", 2); }

// UTF-8 of one code point into out[*n..cap-1); false when it does not fit.
bool put_utf8(char* out, size_t cap, size_t* n, uint32_t cp) {
  char b[4];
  size_t k;
  if (cp < 0x80)
    b[0] = static_cast<char>(cp), k = 1;
  else if (cp < 0x800)
    b[0] = static_cast<char>(0xC0 | cp >> 6), b[1] = static_cast<char>(0x80 | (cp & 63)), k = 2;
  else if (cp < 0x10000)
    b[0] = static_cast<char>(0xE0 | cp >> 12), b[1] = static_cast<char>(0x80 | ((cp >> 6) & 63)),
    b[2] = static_cast<char>(0x80 | (cp & 63)), k = 3;
  else if (cp < 0x110000)
    b[0] = static_cast<char>(0xF0 | cp >> 18), b[1] = static_cast<char>(0x80 | ((cp >> 12) & 63)),
    b[2] = static_cast<char>(0x80 | ((cp >> 6) & 63)), b[3] = static_cast<char>(0x80 | (cp & 63)),
    k = 4;
  else
    return false;
  if (*n + k >= cap) return false;
  memcpy(out + *n, b, k);
  *n += k;
  return true;
}

// A str object's text as UTF-8. `keep_end`: a text too long keeps its end behind "..." (a
// file's name is at the end of its path).
void read_str(const Runtime& rt, uintptr_t at, char* out, size_t cap, bool keep_end) {
  const Layout& l = *rt.layout;
  unsigned char head[80];
  put_unknown(out);
  if (!aligned(at) || !read(at, head, l.str_compact_data)) return;
  if (field<uintptr_t>(head, l.ob_type) != rt.str_type) return;
  const int64_t length = field<int64_t>(head, l.str_length);
  const uint32_t state = field<uint32_t>(head, l.str_state);
  const uint32_t kind = (state >> 2) & 7, compact = (state >> 5) & 1, ascii = (state >> 6) & 1,
                 ready = (state >> 7) & 1;
  if (!compact || !ready || length < 0 || length > kMaxStrLength) return;
  if (kind != 1 && kind != 2 && kind != 4) return;
  if (ascii && kind != 1) return;
  const uintptr_t data = at + (ascii ? l.str_ascii_data : l.str_compact_data);
  uint32_t from = 0;
  size_t n = 0;
  if (keep_end && static_cast<uint64_t>(length) * (ascii ? 1 : 4) >= cap) {
    const uint32_t room = static_cast<uint32_t>((cap - 4) / (ascii ? 1 : 4));
    from = static_cast<uint32_t>(length) - room;
    memcpy(out, "...", 3);
    n = 3;
  }
  unsigned char buf[128];
  for (uint32_t i = from; i < length;) {
    const uint32_t chunk = static_cast<uint32_t>(sizeof buf) / kind;
    const uint32_t take = length - i < chunk ? static_cast<uint32_t>(length - i) : chunk;
    if (!read(data + uintptr_t{i} * kind, buf, size_t{take} * kind)) return put_unknown(out);
    for (uint32_t j = 0; j < take; ++j) {
      uint32_t cp = kind == 1   ? buf[j]
                    : kind == 2 ? field<uint16_t>(buf, j * 2)
                                : field<uint32_t>(buf, j * 4);
      if (cp == 0 || (ascii && cp >= 0x80)) return put_unknown(out);
      if (!put_utf8(out, cap, &n, cp)) {
        out[n] = '\0';
        return;
      }
    }
    i += take;
  }
  out[n] = '\0';
}

} // namespace

uintptr_t thread_state(const Runtime& rt) {
  const Layout& l = *rt.layout;
  uintptr_t interp = 0;
  struct {
    int32_t initialized;
    uint32_t key;
  } tss{};
  // _PyRuntime is a global of an image that stays loaded: plain loads.
  memcpy(&interp, reinterpret_cast<const void*>(rt.runtime + l.runtime_interp), sizeof interp);
  memcpy(&tss, reinterpret_cast<const void*>(rt.runtime + l.runtime_tss), sizeof tss);
  if (interp == 0 || tss.initialized != 1) return 0;
  // An out-of-range key makes glibc return null, never fault.
  return reinterpret_cast<uintptr_t>(pthread_getspecific(static_cast<pthread_key_t>(tss.key)));
}

bool thread_state_is_mine(const Runtime& rt, uintptr_t tstate, uint64_t self) {
  const Layout& l = *rt.layout;
  uintptr_t interp = 0, mine = 0;
  uint64_t thread_id = 0;
  if (!aligned(tstate) || !read_as(rt.runtime + l.runtime_interp, &mine)) return false;
  if (!read_as(tstate + l.tstate_interp, &interp) || interp != mine || interp == 0) return false;
  if (!read_as(tstate + l.tstate_thread_id, &thread_id) || thread_id != self) return false;
  return true;
}

bool current_key(const Runtime& rt, uintptr_t tstate, Key* out) {
  const Layout& l = *rt.layout;
  uintptr_t at = first_frame(l, tstate);
  // Frames still setting up are passed over, as CPython's own tracebacks do; a few at most.
  for (int depth = 0; at != 0 && depth < 8; ++depth) {
    Frame f;
    Code c;
    if (!read_frame(l, at, &f) || !read_code_bounds(rt, f.code, &c)) return false;
    const int64_t off = instr_offset(l, f.code, c, f);
    at = f.previous;
    if (off < 0) continue;
    *out = Key{f.code, static_cast<uint32_t>(off), 0};
    // The callers are only hashed, never named here: their pointers need no type check, and
    // a chain that ends early or loops only makes a different (bounded) hash.
    uint64_t h = 0;
    for (uint32_t n = 1; at != 0 && n < kKeyFrames; ++n) {
      if (!read_frame(l, at, &f)) break;
      h = (h ^ f.code) * 0x100000001b3ULL;
      h = (h ^ f.prev_instr) * 0x100000001b3ULL;
      at = f.previous;
    }
    out->callers = h;
    return true;
  }
  return false;
}

uint32_t read_stack(const Runtime& rt, uintptr_t tstate, FrameText* out, uint32_t max) {
  const Layout& l = *rt.layout;
  uintptr_t at = first_frame(l, tstate);
  uint32_t n = 0;
  // The depth bound also ends a chain that loops.
  for (uint32_t seen = 0; at != 0 && n < max && seen < max + 8; ++seen) {
    Frame f;
    Code c;
    if (!read_frame(l, at, &f) || !read_code(rt, f.code, &c)) break;
    const int64_t off = instr_offset(l, f.code, c, f);
    at = f.previous;
    if (off < 0) continue;
    FrameText& t = out[n++];
    t.first_line = c.first_line > 0 ? c.first_line : 0;
    t.line = t.first_line ? line_at(rt, c.linetable, t.first_line, static_cast<uint32_t>(off)) : 0;
    read_str(rt, c.qualname, t.function, sizeof t.function, false);
    read_str(rt, c.filename, t.file, sizeof t.file, true);
  }
  return n;
}

int32_t line_at(const Runtime& rt, uintptr_t linetable, int32_t first_line, uint32_t byte_offset) {
  const Layout& l = *rt.layout;
  unsigned char head[40];
  if (!aligned(linetable) || !read(linetable, head, l.bytes_data)) return 0;
  if (field<uintptr_t>(head, l.ob_type) != rt.bytes_type) return 0;
  const int64_t size = field<int64_t>(head, l.ob_size);
  if (size <= 0 || size > kMaxLineTable) return 0;
  Bytes b;
  b.at = linetable + l.bytes_data;
  b.size = static_cast<uint32_t>(size);
  int64_t line = first_line;
  uint32_t addr = 0;
  for (;;) {
    const int first = b.next();
    if (first < 0 || !(first & 0x80)) return 0; // ran out, or not at an entry's start
    const int code = (first >> 3) & 15;
    const uint32_t end = addr + ((first & 7) + 1) * 2;
    int32_t delta = 0;
    uint32_t skip;
    if (code == 15)
      delta = 0;           // no location
    else if (code == 14) { // long form
      if (!b.svarint(&delta) || !b.varint(&skip) || !b.varint(&skip) || !b.varint(&skip)) return 0;
    } else if (code == 13) { // no column
      if (!b.svarint(&delta)) return 0;
    } else if (code >= 10) { // one line, two column bytes
      delta = code - 10;
      if (!b.skip(2)) return 0;
    } else if (!b.skip(1)) { // short form: same line
      return 0;
    }
    line += delta;
    if (byte_offset < end) {
      if (code == 15 || line <= 0 || line > INT32_MAX) return 0;
      return static_cast<int32_t>(line);
    }
    addr = end;
  }
}

} // namespace valley::shim::py
