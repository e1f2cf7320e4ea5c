// SPDX-License-Identifier: MIT
/// @file config_lex.h
/// @brief The tokens of valley.toml for the shim's reader (config_file.cpp): comments, line
/// breaks and one-line values, checked exactly as TOML 1.0 and toml++ check them, so that
/// what the shim accepts, the advisor accepts too.
#pragma once

#include "config_file.h"
#include "valley/settings.h"

#include <cstddef>
#include <cstdint>

namespace valley::shim::cfg {

struct Pos {
  uint32_t line, col;
};

/// A position in the text. col counts UTF-8 code points from 1, as toml++ does.
class Cursor {
public:
  Cursor(const char* text, size_t n, ConfigError* err) : p_(text), end_(text + n), err_(err) {}

  bool at_end() const { return p_ == end_; }
  bool is(char c) const { return p_ != end_ && *p_ == c; }
  /// A value or a key cannot go on here: the line (or the file) ends, or a comment starts.
  bool at_line_end() const { return at_end() || is('\n') || is('\r') || is('#'); }
  unsigned char peek() const { return static_cast<unsigned char>(*p_); }
  const char* here() const { return p_; }
  const char* end() const { return end_; }
  Pos pos() const { return {line_, col_}; }
  void next() {
    if (*p_ == '\n')
      ++line_, col_ = 1;
    else if ((static_cast<unsigned char>(*p_) & 0xC0) != 0x80)
      ++col_;
    ++p_;
  }
  void skip_ws() {
    while (is(' ') || is('\t'))
      next();
  }

  /// Starts the error message for a problem at `at` (the first problem ends the reading).
  settings::Msg fail_at(Pos at) {
    err_->line = at.line;
    err_->col = at.col;
    return settings::Msg(err_->message, sizeof err_->message);
  }
  bool fail(Pos at, const char* what) {
    fail_at(at).str(what);
    return false;
  }
  /// A byte that does not start well-formed UTF-8, reported where toml++ reports it: at the
  /// character before it.
  bool fail_utf8() { return fail({line_, col_ > 1 ? col_ - 1 : col_}, "invalid utf-8 sequence"); }

private:
  const char* p_;
  const char* end_;
  uint32_t line_ = 1, col_ = 1;
  ConfigError* err_;
};

struct Scalar {
  enum Kind : uint8_t { boolean, integer, floating, string, array, table } kind;
  bool truth;         ///< boolean
  bool negative;      ///< integer, floating: written with '-'
  uint64_t magnitude; ///< integer
  bool unit;          ///< floating: in 0..1 as the advisor's double is (no '-', not NaN)
  // string: its first sizeof text bytes, decoded; its whole length; which of these it holds
  char text[512];
  size_t length;
  bool has_nul, has_colon, has_comma;
};

/// Reads one value: true/false, a number, or a string on one line. At '[' or '{' sets kind
/// array or table without moving: the caller decides.
bool lex_scalar(Cursor& c, Scalar* out);
/// A comment, from '#' to the end of its line (the line break is left).
bool lex_comment(Cursor& c);
/// "\n" or "\r\n".
bool lex_newline(Cursor& c);
/// A character of a bare key.
inline bool bare_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

} // namespace valley::shim::cfg
