// SPDX-License-Identifier: MIT
/// @file config_file.cpp
/// @brief valley.toml in the traced process: the line grammar (tables, keys, one-line
/// arrays), the settings table's checks on every value, and reading the file without ever
/// blocking or reading more than settings::kMaxFileBytes (I-17). What it accepts, the advisor's
/// reader accepts, with the same values (I-18).
#include "config_file.h"

#include "config_lex.h"
#include "diag.h"
#include "options.h"
#include "sys.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace valley::shim {
namespace st = valley::settings;
using cfg::Cursor;
using cfg::Pos;
using cfg::Scalar;
using st::Id;
using st::Problem;
using st::Type;

namespace {

class Parser {
public:
  Parser(const char* text, size_t n, CoalesceOptions* out, ConfigError* err)
      : c_(text, n, err), out_(out) {
    for (const st::Setting& s : st::kSettings)
      if (s.type == Type::count) counts_[st::index(s.id)] = st::default_count(s.id);
  }

  bool run() {
    for (;;) {
      c_.skip_ws();
      if (c_.at_end()) break;
      const char ch = static_cast<char>(c_.peek());
      bool ok = false;
      if (ch == '\n' || ch == '\r')
        ok = cfg::lex_newline(c_);
      else if (ch == '#')
        ok = cfg::lex_comment(c_);
      else if (ch == '[')
        ok = header();
      else if (ch == '"' || ch == '\'')
        return c_.fail(c_.pos(), st::text::kQuotedKey);
      else if (cfg::bare_key_char(ch))
        ok = keyval();
      else if (c_.peek() >= 0x80 &&
               !st::utf8_length(reinterpret_cast<const unsigned char*>(c_.here()),
                                static_cast<size_t>(c_.end() - c_.here())))
        return c_.fail_utf8();
      else
        return c_.fail(c_.pos(), "expected a key, a [table] or a comment");
      if (!ok) return false;
    }
    const uint64_t large = counts_[st::index(Id::large_io_bytes)];
    if (counts_[st::index(Id::small_write_bytes)] > large ||
        counts_[st::index(Id::small_read_bytes)] > large)
      return c_.fail(advisor_at_, st::text::kSmallAboveLarge);
    return true;
  }

private:
  const char* bare_key() {
    const char* start = c_.here();
    while (!c_.at_end() && cfg::bare_key_char(static_cast<char>(c_.peek())))
      c_.next();
    return start;
  }

  bool end_of_line() {
    c_.skip_ws();
    if (c_.is('#') && !cfg::lex_comment(c_)) return false;
    if (c_.at_end()) return true;
    if (c_.is('\n') || c_.is('\r')) return cfg::lex_newline(c_);
    return c_.fail(c_.pos(), "expected a comment or the end of the line");
  }

  // [name]: one of kTables, once. Problems in the line come before what the name means.
  bool header() {
    const Pos open = c_.pos();
    c_.next();
    if (c_.is('[')) return c_.fail(open, st::text::kArrayOfTables);
    c_.skip_ws();
    if (c_.is('"') || c_.is('\'')) return c_.fail(c_.pos(), st::text::kQuotedKey);
    const Pos at = c_.pos();
    const char* name = bare_key();
    const size_t n = static_cast<size_t>(c_.here() - name);
    if (n == 0) return c_.fail(c_.pos(), "expected a table name");
    c_.skip_ws();
    if (c_.is('.')) return c_.fail(open, st::text::kDottedKey);
    if (!c_.is(']')) return c_.fail(c_.pos(), "expected ']' after the table name");
    c_.next();
    if (!end_of_line()) return false;
    const int t = st::table_index(name, n);
    if (t < 0) {
      st::Msg m = c_.fail_at(at);
      st::unknown_table(m, name, n);
      return false;
    }
    if (tables_ & (1u << t)) {
      c_.fail_at(open).str("cannot redefine table [").str(st::kTables[t]).chr(']');
      return false;
    }
    tables_ |= 1u << t;
    table_ = t;
    if (t == st::table_index("advisor", 7)) advisor_at_ = open;
    return true;
  }

  // key = value, the key one of the table's settings, once.
  bool keyval() {
    const Pos at = c_.pos();
    const char* key = bare_key();
    const size_t n = static_cast<size_t>(c_.here() - key);
    c_.skip_ws();
    if (c_.is('.')) return c_.fail(at, st::text::kDottedKey);
    if (table_ < 0) return c_.fail(at, st::text::kOutsideTable);
    if (!c_.is('=')) return c_.fail(c_.pos(), "expected '=' after the key");
    c_.next();
    c_.skip_ws();
    const st::Setting* s = st::by_key(table_, key, n);
    if (!s) {
      st::Msg m = c_.fail_at(at);
      st::unknown_key(m, table_, key, n);
      return false;
    }
    const Pos value_at = c_.pos();
    const uint64_t bit = uint64_t{1} << st::index(s->id);
    if (keys_ & bit) {
      st::Msg m = c_.fail_at(value_at);
      m.str("cannot redefine ");
      st::name(m, *s);
      return false;
    }
    keys_ |= bit;
    return (st::is_list(s->type) ? list(*s, value_at) : scalar(*s, value_at)) && end_of_line();
  }

  bool wrong(const st::Setting& s, Pos at, Problem p, const char* e = "", size_t n = 0) {
    st::Msg m = c_.fail_at(at);
    st::name(m, s);
    st::describe(m, s, p, false, e, n);
    return false;
  }

  static bool in_range(const Scalar& v, uint64_t lo, uint64_t hi) {
    return v.kind == Scalar::integer && (!v.negative || v.magnitude == 0) && v.magnitude >= lo &&
           v.magnitude <= hi;
  }

  bool scalar(const st::Setting& s, Pos at) {
    Scalar v;
    if (!cfg::lex_scalar(c_, &v)) return false;
    bool ok = false;
    if (s.type == Type::flag) ok = v.kind == Scalar::boolean;
    if (s.type == Type::count) ok = in_range(v, s.min, s.max);
    if (s.type == Type::fraction) ok = in_range(v, 0, 1) || (v.kind == Scalar::floating && v.unit);
    if (!ok) return wrong(s, at, Problem::type);
    const uint64_t value = v.kind == Scalar::boolean ? v.truth : v.magnitude;
    if (s.type == Type::count) counts_[st::index(s.id)] = value;
    coalesce_set(out_, s.id, value);
    return true;
  }

  // A string entry, checked as the advisor checks the whole string even where only its
  // start was kept.
  Problem entry(const st::Setting& s, const Scalar& v) {
    if (v.length <= sizeof v.text) return coalesce_list_add(out_, s, v.text, v.length);
    if (s.type == Type::kinds) return Problem::unknown_kind;
    if (v.has_nul) return Problem::nul;
    if (s.type == Type::globs ? v.has_colon : v.has_comma) return Problem::separator;
    return Problem::length;
  }

  // [entry, entry, …] on one line.
  bool list(const st::Setting& s, Pos at) {
    Scalar v;
    if (!c_.is('[')) return cfg::lex_scalar(c_, &v) && wrong(s, at, Problem::type);
    c_.next();
    coalesce_list_clear(out_, s.id);
    size_t count = 0;
    for (;;) {
      c_.skip_ws();
      if (c_.at_line_end()) return c_.fail(at, st::text::kMultiLineArray);
      if (c_.is(']')) break;
      const Pos e = c_.pos();
      if (!cfg::lex_scalar(c_, &v)) return false;
      if (s.type == Type::sizes) {
        if (!in_range(v, s.min, s.max)) return wrong(s, e, Problem::type);
      } else {
        if (v.kind != Scalar::string) return wrong(s, e, Problem::type);
        const Problem p = entry(s, v);
        if (p != Problem::ok) return wrong(s, e, p, v.text, v.length);
      }
      ++count;
      c_.skip_ws();
      if (c_.is(','))
        c_.next();
      else if (c_.is(']'))
        break;
      else if (c_.at_line_end())
        return c_.fail(at, st::text::kMultiLineArray);
      else
        return c_.fail(c_.pos(), "expected ',' or ']' after an array entry");
    }
    c_.next();
    if (count == 0 && (s.type == Type::kinds || s.type == Type::sizes))
      return wrong(s, at, Problem::list_empty);
    return true;
  }

  Cursor c_;
  CoalesceOptions* out_;
  int table_ = -1;
  uint32_t tables_ = 0;
  uint64_t keys_ = 0;
  Pos advisor_at_{1, 1};
  uint64_t counts_[st::kCount] = {};
};

const char* errno_text(int e) {
  switch (e) {
  case ENOENT:
    return "no such file (ENOENT)";
  case EACCES:
    return "permission denied (EACCES)";
  case ENOTDIR:
    return "a part of the path is not a directory (ENOTDIR)";
  case ELOOP:
    return "too many symbolic links (ELOOP)";
  case ENAMETOOLONG:
    return "the name is too long (ENAMETOOLONG)";
  case ENXIO:
    return "no such device (ENXIO)";
  case EIO:
    return "input/output error (EIO)";
  default:
    return nullptr;
  }
}

// "error: PATH: <what>; coalescing off"
bool refuse(const char* path, const char* what, int err = 0) {
  char line[480];
  st::Msg m(line, sizeof line);
  m.str("error: ").printable(path, str_len(path)).str(": ").str(what);
  if (err)
    errno_text(err) ? m.str(errno_text(err)) : m.str("errno ").num(static_cast<uint64_t>(err));
  m.str("; coalescing off");
  diag(line);
  return false;
}

} // namespace

bool parse_config(const char* text, size_t n, CoalesceOptions* out, ConfigError* err) {
  *err = ConfigError{};
  if (n >= 3 && static_cast<unsigned char>(text[0]) == 0xEF &&
      static_cast<unsigned char>(text[1]) == 0xBB && static_cast<unsigned char>(text[2]) == 0xBF)
    text += 3, n -= 3; // a byte order mark: not a character of line 1 for toml++ either
  return Parser(text, n, out, err).run();
}

bool read_coalesce_config(const char* path, CoalesceOptions* out) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is then refused as a FIFO; I-17).
  const int fd = sys::open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return refuse(path, "cannot read the config file: ", errno);
  struct ::stat info {};
  if (sys::fstat(fd, &info) != 0) {
    const int e = errno;
    sys::close(fd);
    return refuse(path, "cannot read the config file: ", e);
  }
  if (!S_ISREG(info.st_mode) || info.st_size > static_cast<off_t>(st::kMaxFileBytes)) {
    sys::close(fd);
    return refuse(path, S_ISREG(info.st_mode) ? st::kTooLarge : st::not_regular(info.st_mode));
  }
  // One byte more than allowed tells a file that grew since fstat. Mapped, not static: most
  // processes never read a config, and those that do give the pages back.
  const size_t cap = (st::kMaxFileBytes + 1 + 4095) & ~size_t{4095};
  void* map = sys::mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) {
    sys::close(fd);
    return refuse(path, "no memory to read it");
  }
  char* text = static_cast<char*>(map);
  size_t got = 0;
  int read_error = 0;
  while (got <= st::kMaxFileBytes) {
    const ssize_t r = sys::read(fd, text + got, st::kMaxFileBytes + 1 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) read_error = errno;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  sys::close(fd);
  static CoalesceOptions parsed; // 8 KiB: not on a stack that may be small; read once, at start
  parsed = *out;
  static ConfigError err;
  bool ok = false;
  if (read_error)
    refuse(path, "cannot read the config file: ", read_error);
  else if (got > st::kMaxFileBytes)
    refuse(path, st::kTooLarge);
  else if (!(ok = parse_config(text, got, &parsed, &err))) {
    char line[480];
    st::Msg m(line, sizeof line);
    m.str("error: ").printable(path, str_len(path)).chr(':').num(err.line).chr(':').num(err.col);
    m.str(": ").str(err.message).str("; coalescing off");
    diag(line);
  }
  ::syscall(SYS_munmap, map, cap);
  if (ok) *out = parsed;
  return ok;
}

} // namespace valley::shim
