// SPDX-License-Identifier: MIT
#include "config_lex.h"

namespace valley::shim::cfg {
namespace st = valley::settings;

namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }
int digit_value(char c, int radix) {
  const int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : 99;
  return v < radix ? v : -1;
}
// Where a value ends (as in toml++: whitespace, a line break, ',', ']', '}', '#').
bool terminator(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ']' || c == '}' ||
         c == '#';
}

void put(Scalar* s, const char* bytes, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (s->length < sizeof s->text) s->text[s->length] = bytes[i];
    ++s->length;
    s->has_nul |= bytes[i] == '\0';
    s->has_colon |= bytes[i] == ':';
    s->has_comma |= bytes[i] == ',';
  }
}

bool lex_word(Cursor& c, const char* word) {
  for (; *word; ++word) {
    if (c.at_end() || c.peek() != static_cast<unsigned char>(*word))
      return c.fail(c.pos(), "expected true or false");
    c.next();
  }
  if (!c.at_end() && !terminator(static_cast<char>(c.peek())))
    return c.fail(c.pos(), "expected the end of the value");
  return true;
}

// After a backslash in a "basic string": one escape, decoded to UTF-8.
bool lex_escape(Cursor& c, Scalar* out) {
  c.next();
  if (c.at_end()) return c.fail(c.pos(), "unterminated string");
  const char e = static_cast<char>(c.peek());
  static constexpr char kFrom[] = "btnfr\"\\", kTo[] = "\b\t\n\f\r\"\\";
  for (int i = 0; kFrom[i]; ++i)
    if (e == kFrom[i]) {
      put(out, &kTo[i], 1);
      c.next();
      return true;
    }
  if (e != 'u' && e != 'U')
    return c.fail(
        c.pos(),
        "unknown escape sequence (TOML 1.0 has \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX)");
  c.next();
  uint32_t cp = 0;
  for (int i = 0; i < (e == 'u' ? 4 : 8); ++i) {
    const int v = c.at_end() ? -1 : digit_value(static_cast<char>(c.peek()), 16);
    if (v < 0) return c.fail(c.pos(), "expected a hexadecimal digit in the escape");
    cp = cp * 16 + static_cast<uint32_t>(v);
    c.next();
  }
  if (cp >= 0xD800 && cp <= 0xDFFF)
    return c.fail(c.pos(), "unicode surrogates (U+D800 - U+DFFF) are not allowed");
  if (cp > 0x10FFFF) return c.fail(c.pos(), "values greater than U+10FFFF are not allowed");
  char u[4];
  size_t n = 0;
  if (cp < 0x80)
    u[n++] = static_cast<char>(cp);
  else if (cp < 0x800)
    u[n++] = static_cast<char>(0xC0 | cp >> 6);
  else if (cp < 0x10000)
    u[n++] = static_cast<char>(0xE0 | cp >> 12),
    u[n++] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  else {
    u[n++] = static_cast<char>(0xF0 | cp >> 18);
    u[n++] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    u[n++] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  }
  if (cp >= 0x80) u[n++] = static_cast<char>(0x80 | (cp & 0x3F));
  put(out, u, n);
  return true;
}

bool lex_string(Cursor& c, Scalar* out) {
  const char q = static_cast<char>(c.peek());
  if (c.end() - c.here() >= 3 && c.here()[1] == q && c.here()[2] == q)
    return c.fail(c.pos(), st::text::kMultiLineString);
  out->kind = Scalar::string;
  out->length = 0;
  out->has_nul = out->has_colon = out->has_comma = false;
  c.next();
  for (;;) {
    if (c.at_end()) return c.fail(c.pos(), "unterminated string");
    const unsigned char ch = c.peek();
    if (ch == static_cast<unsigned char>(q)) {
      c.next();
      return true;
    }
    if (ch == '\\' && q == '"') {
      if (!lex_escape(c, out)) return false;
      continue;
    }
    if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
      return c.fail(c.pos(), "control characters other than tab are not allowed in strings");
    size_t k = 1;
    if (ch >= 0x80 && !(k = st::utf8_length(reinterpret_cast<const unsigned char*>(c.here()),
                                            static_cast<size_t>(c.end() - c.here()))))
      return c.fail_utf8();
    put(out, c.here(), k);
    while (k--)
      c.next();
  }
}

// Digits of `radix`, a single '_' only between two of them. Returns where they end, or
// nullptr with *bad at the first wrong character.
const char* digit_run(const char* q, const char* e, int radix, const char** bad) {
  if (q == e || digit_value(*q, radix) < 0) {
    *bad = q;
    return nullptr;
  }
  while (q != e && (digit_value(*q, radix) >= 0 ||
                    (*q == '_' && q + 1 != e && digit_value(q[1], radix) >= 0)))
    ++q;
  return q;
}

// Whether a float lies in [0, 1] once rounded to the nearest double (ties to even), as the
// advisor sees it through toml++: exactly, below 1 + 2^-53 (which rounds to 1).
bool unit_range(const char* ip, const char* ie, const char* fs, const char* fe, const char* xs,
                const char* xe, bool xneg) {
  static constexpr char kOneAndHalfUlp[] = "100000000000000011102230246251565404236316680908203125";
  int64_t x = 0;
  for (const char* p = xs; p && p != xe; ++p)
    if (digit(*p) && (x = x * 10 + (*p - '0')) > 1000000) x = 1000000;
  char d[st::kMaxNumberChars];
  size_t n = 0;
  int64_t point = 0; // digits before the decimal point, once leading zeros are gone
  for (const char* p = ip; p != ie; ++p)
    if (digit(*p) && (n || *p != '0')) d[n++] = *p, ++point;
  for (const char* p = fs; p && p != fe; ++p) {
    if (!digit(*p)) continue;
    if (n || *p != '0')
      d[n++] = *p;
    else
      --point;
  }
  if (n == 0) return true; // zero
  point += xneg ? -x : x;
  if (point != 1) return point < 1;
  const size_t tn = sizeof kOneAndHalfUlp - 1;
  for (size_t i = 0; i < n || i < tn; ++i) {
    const char a = i < n ? d[i] : '0', b = i < tn ? kOneAndHalfUlp[i] : '0';
    if (a != b) return a < b;
  }
  return true; // exactly 1 + 2^-53: the tie goes to the even neighbour, 1
}

bool lex_number(Cursor& c, Scalar* out) {
  const Pos at = c.pos();
  const char* s = c.here();
  const char* e = s;
  while (e != c.end() && !terminator(*e))
    ++e;
  auto col = [&](const char* q) { return Pos{at.line, at.col + static_cast<uint32_t>(q - s)}; };
  const char* q = s;
  while (q != e && digit(*q))
    ++q;
  if (q != s && q != e && (*q == '-' || *q == ':')) return c.fail(at, st::text::kDate);
  if (static_cast<size_t>(e - s) > st::kMaxNumberChars) return c.fail(at, st::text::kLongNumber);
  for (q = s; q != e; ++q)
    if (static_cast<unsigned char>(*q) >= 0x80)
      return c.fail(col(q), "unexpected character in a number");
  q = s;
  const bool neg = *q == '-';
  if (*q == '+' || *q == '-') ++q;
  if (q == e) return c.fail(at, "expected a number");
  const char* bad = nullptr;
  int radix = 10;
  const char *ie = nullptr, *fs = nullptr, *fe = nullptr, *xs = nullptr, *xe = nullptr;
  bool xneg = false;
  if (*q == 'i' || *q == 'n') {
    if (e - q != 3 || !(st::same(q, 3, "inf") || st::same(q, 3, "nan")))
      return c.fail(col(q), "expected inf or nan");
    out->kind = Scalar::floating;
    out->negative = neg;
    out->unit = false;
  } else {
    if (q[0] == '0' && q + 1 != e && (q[1] == 'x' || q[1] == 'o' || q[1] == 'b')) {
      if (q != s) return c.fail(at, "a hexadecimal, octal or binary number takes no sign");
      radix = q[1] == 'x' ? 16 : q[1] == 'o' ? 8 : 2;
      q += 2;
    }
    const char* ip = q;
    if (!(ie = digit_run(q, e, radix, &bad))) return c.fail(col(bad), "expected a digit");
    if (radix == 10 && *ip == '0' && ie - ip > 1)
      return c.fail(col(ie), "leading zeros are not allowed");
    q = ie;
    if (radix == 10 && q != e && *q == '.') {
      fs = q + 1;
      if (!(fe = digit_run(fs, e, 10, &bad))) return c.fail(col(bad), "expected a digit");
      q = fe;
    }
    if (radix == 10 && q != e && (*q == 'e' || *q == 'E')) {
      if (++q != e && (*q == '+' || *q == '-')) xneg = *q++ == '-';
      xs = q;
      if (!(xe = digit_run(q, e, 10, &bad))) return c.fail(col(bad), "expected a digit");
      q = xe;
    }
    if (q != e) return c.fail(col(q), "unexpected character in a number");
    out->negative = neg;
    if (fs || xs) {
      out->kind = Scalar::floating;
      out->unit = !neg && unit_range(ip, ie, fs, fe, xs, xe, xneg);
    } else {
      out->kind = Scalar::integer;
      const uint64_t limit = neg ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
      uint64_t v = 0;
      for (const char* p = ip; p != ie; ++p) {
        if (*p == '_') continue;
        const auto d = static_cast<uint64_t>(digit_value(*p, radix));
        if (v > (limit - d) / static_cast<uint64_t>(radix))
          return c.fail(col(e), "this integer is not representable in 64 bits");
        v = v * static_cast<uint64_t>(radix) + d;
      }
      out->magnitude = v;
    }
  }
  while (c.here() != e)
    c.next();
  return true;
}

} // namespace

bool lex_scalar(Cursor& c, Scalar* out) {
  if (c.at_line_end()) return c.fail(c.pos(), "expected a value");
  const char ch = static_cast<char>(c.peek());
  out->kind = Scalar::boolean;
  switch (ch) {
  case '[':
    out->kind = Scalar::array;
    return true;
  case '{':
    out->kind = Scalar::table;
    return true;
  case '"':
  case '\'':
    return lex_string(c, out);
  case 't':
    out->truth = true;
    return lex_word(c, "true");
  case 'f':
    out->truth = false;
    return lex_word(c, "false");
  default:
    if (digit(ch) || ch == '+' || ch == '-' || ch == 'i' || ch == 'n') return lex_number(c, out);
    return c.fail(c.pos(), "expected a value");
  }
}

bool lex_comment(Cursor& c) {
  c.next();
  while (!c.at_end()) {
    const unsigned char ch = c.peek();
    if (ch == '\n' || ch == '\r') return true;
    if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
      return c.fail(c.pos(), "control characters other than tab are not allowed in comments");
    size_t k = 1;
    if (ch >= 0x80 && !(k = st::utf8_length(reinterpret_cast<const unsigned char*>(c.here()),
                                            static_cast<size_t>(c.end() - c.here()))))
      return c.fail_utf8();
    while (k--)
      c.next();
  }
  return true;
}

bool lex_newline(Cursor& c) {
  if (c.is('\r')) {
    c.next();
    if (!c.is('\n')) return c.fail(c.pos(), "expected '\\n' after '\\r'");
  }
  c.next();
  return true;
}

} // namespace valley::shim::cfg
