// SPDX-License-Identifier: MIT
/// @file settings.cpp
/// @brief toml++ → Settings. Every key is known, every value checked with the settings
/// table's rules, and what toml++ accepts beyond valley.toml's subset of TOML (the shim's
/// reader, shim/config_file.cpp) is refused here too; on a file with one mistake both name
/// the same FILE:LINE:COL (I-18).
#include "settings.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

namespace valley::advisor {
namespace vs = valley::settings;
using vs::Id;
using vs::Problem;
using vs::Type;

namespace {

using Position = toml::source_position;

bool before(const Position& a, const Position& b) {
  return a.line < b.line || (a.line == b.line && a.column < b.column);
}

std::string printable(std::string_view s) {
  std::string out(s.size() * 4 + 1, '\0');
  vs::Msg m(out.data(), out.size());
  m.printable(s.data(), s.size());
  out.resize(m.size());
  return out;
}

// valley.toml's rules on top of toml++'s: each problem is kept with its position and the
// earliest one is reported, which is where the shim's reader, going line by line, stops.
class Checker {
public:
  Checker(std::string_view text, Settings* out) : text_(text), out_(out) {
    size_t start = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
    for (;;) {
      starts_.push_back(start);
      const size_t nl = text.find('\n', start);
      if (nl == std::string_view::npos) break;
      start = nl + 1;
    }
  }

  void root(const toml::table& root) {
    for (auto&& [k, v] : root) {
      const Position kp = k.source().begin, vp = v.source().begin;
      if (quoted(kp))
        add(kp, vs::text::kQuotedKey);
      else if (v.is_array() && before(vp, kp))
        add(vp, vs::text::kArrayOfTables);
      else if (!v.is_table() || rest(vp).substr(0, 1) != "[")
        add(kp, v.is_table() && vp == kp ? vs::text::kDottedKey : vs::text::kOutsideTable);
      else
        table(vs::table_index(k.str().data(), k.str().size()), k, *v.as_table());
    }
  }

  void table(int t, const toml::key& name, const toml::table& tab) {
    if (t < 0) {
      problem(name.source().begin).unknown_table(name.str());
    }
    for (auto&& [k, v] : tab) {
      const Position kp = k.source().begin, vp = v.source().begin;
      if (quoted(kp))
        add(kp, vs::text::kQuotedKey);
      else if (v.is_table() && rest(vp).substr(0, 1) == "[")
        add(vp, vs::text::kDottedKey);
      else if (v.is_table() && vp == kp)
        add(kp, vs::text::kDottedKey);
      else if (v.is_array() && before(vp, kp))
        add(vp, vs::text::kArrayOfTables);
      else if (t < 0)
        continue;
      else if (const vs::Setting* s = vs::by_key(t, k.str().data(), k.str().size()))
        value(*s, v);
      else
        problem(kp).unknown_key(t, k.str());
    }
  }

  /// Rules across settings, once each value is right.
  void consistency(const toml::table& root) {
    const AdvisorSettings& a = out_->advisor;
    const toml::node* t = root.get("advisor");
    if (t && !first_ &&
        (a.small_write_bytes > a.large_io_bytes || a.small_read_bytes > a.large_io_bytes))
      add(t->source().begin, vs::text::kSmallAboveLarge);
  }

  std::optional<std::pair<Position, std::string>> first() const { return first_; }

private:
  struct Words {
    Checker& c;
    Position at;
    void unknown_table(std::string_view t) {
      c.say(at, [&](vs::Msg& m) { vs::unknown_table(m, t.data(), t.size()); });
    }
    void unknown_key(int t, std::string_view k) {
      c.say(at, [&](vs::Msg& m) { vs::unknown_key(m, t, k.data(), k.size()); });
    }
    void wrong(const vs::Setting& s, Problem p, std::string_view e = {}) {
      c.say(at,
            [&](vs::Msg& m) { vs::name(m, s), vs::describe(m, s, p, false, e.data(), e.size()); });
    }
  };
  Words problem(const Position& at) { return {*this, at}; }

  template <class F> void say(const Position& at, F&& f) {
    char buf[1200];
    vs::Msg m(buf, sizeof buf);
    f(m);
    add(at, m.c_str());
  }
  void add(const Position& at, std::string message) {
    if (!first_ || before(at, first_->first)) first_ = {at, std::move(message)};
  }

  // The text from a position to the end of its line; columns count code points.
  std::string_view rest(const Position& p) const {
    if (p.line == 0 || p.line > starts_.size()) return {};
    size_t i = starts_[p.line - 1];
    for (uint32_t col = 1; col < p.column && i < text_.size(); ++col)
      for (++i; i < text_.size() && (static_cast<unsigned char>(text_[i]) & 0xC0) == 0x80;)
        ++i;
    const size_t end = text_.find('\n', i);
    return text_.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i);
  }
  bool quoted(const Position& p) const {
    const std::string_view r = rest(p);
    return !r.empty() && (r[0] == '"' || r[0] == '\'');
  }

  // What the shim's reader refuses while reading a value, before its type matters.
  bool form_ok(const toml::node& v) {
    const Position p = v.source().begin;
    const std::string_view r = rest(p);
    if (v.is_string() && r.size() >= 3 && r[1] == r[0] && r[2] == r[0])
      add(p, vs::text::kMultiLineString);
    else if (v.is_date() || v.is_time() || v.is_date_time())
      add(p, vs::text::kDate);
    else if ((v.is_integer() || v.is_floating_point()) &&
             v.source().end.column - p.column > vs::kMaxNumberChars)
      add(p, vs::text::kLongNumber);
    else
      return true;
    return false;
  }

  static std::optional<uint64_t> in_range(const toml::node& v, uint64_t lo, uint64_t hi) {
    const std::optional<int64_t> i = v.is_integer() ? v.value<int64_t>() : std::nullopt;
    if (!i || *i < 0 || static_cast<uint64_t>(*i) < lo || static_cast<uint64_t>(*i) > hi)
      return std::nullopt;
    return static_cast<uint64_t>(*i);
  }

  void value(const vs::Setting& s, const toml::node& v) {
    const Position at = v.source().begin;
    if (vs::is_list(s.type)) return list(s, v);
    if (v.is_array() || v.is_table()) return problem(at).wrong(s, Problem::type);
    if (!form_ok(v)) return;
    std::optional<uint64_t> n;
    if (s.type == Type::flag && v.is_boolean())
      store(s.id, *v.value<bool>());
    else if (s.type == Type::count && (n = in_range(v, s.min, s.max)))
      store(s.id, *n);
    else if (s.type == Type::fraction && (n = in_range(v, 0, 1)))
      store(s.id, 0, static_cast<double>(*n));
    else if (s.type == Type::fraction && v.is_floating_point() && fraction(*v.value<double>()))
      store(s.id, 0, *v.value<double>());
    else
      problem(at).wrong(s, Problem::type);
  }
  // In 0..1; written with '-' never (the shim cannot tell -1e-400 from 0 otherwise).
  static bool fraction(double d) { return !std::signbit(d) && d >= 0 && d <= 1; }

  // Entries on the array's first line, as far as the shim's reader gets, then the array.
  void list(const vs::Setting& s, const toml::node& v) {
    const Position at = v.source().begin;
    if (v.is_table()) return problem(at).wrong(s, Problem::type);
    if (!v.is_array()) {
      if (form_ok(v)) problem(at).wrong(s, Problem::type);
      return;
    }
    std::vector<uint64_t> numbers;
    std::vector<std::string> strings;
    size_t joined = 0;
    for (const toml::node& e : *v.as_array()) {
      const Position ep = e.source().begin;
      if (ep.line != at.line) break;
      if (e.is_array() || e.is_table()) return problem(ep).wrong(s, Problem::type);
      if (!form_ok(e)) return;
      if (s.type == Type::sizes) {
        const std::optional<uint64_t> n = in_range(e, s.min, s.max);
        if (!n) return problem(ep).wrong(s, Problem::type);
        numbers.push_back(*n);
        continue;
      }
      if (!e.is_string()) return problem(ep).wrong(s, Problem::type);
      const std::string& str = e.as_string()->get();
      Problem p = vs::check_entry(s, str.data(), str.size());
      joined += (strings.empty() ? 0 : 1) + str.size();
      if (p == Problem::ok && s.type != Type::kinds && joined >= vs::kListBytes)
        p = Problem::list_full;
      if (p != Problem::ok) return problem(ep).wrong(s, p, str);
      strings.push_back(str);
    }
    if (v.source().end.line != at.line) return add(at, vs::text::kMultiLineArray);
    if (numbers.empty() && strings.empty() && (s.type == Type::kinds || s.type == Type::sizes))
      return problem(at).wrong(s, Problem::list_empty);
    if (s.type == Type::sizes) std::sort(numbers.begin(), numbers.end());
    store(s.id, numbers, strings);
  }

  void store(Id id, uint64_t n, double d = 0) {
    AdvisorSettings& a = out_->advisor;
    CoalesceSettings& c = out_->coalesce;
    switch (id) {
    case Id::coalesce_enabled:
      c.enabled = n != 0;
      break;
    case Id::coalesce_stdio:
      c.stdio = n != 0;
      break;
    case Id::coalesce_size:
      c.buffer_size = n;
      break;
    case Id::coalesce_max_age:
      c.max_age_ms = n;
      break;
    case Id::min_calls:
      a.min_calls = n;
      break;
    case Id::small_write_bytes:
      a.small_write_bytes = n;
      break;
    case Id::small_read_bytes:
      a.small_read_bytes = n;
      break;
    case Id::large_io_bytes:
      a.large_io_bytes = n;
      break;
    case Id::min_saving:
      a.min_saving = d;
      break;
    case Id::gather_max_burst:
      a.gather_max_burst = n;
      break;
    case Id::sequential_fraction:
      a.sequential_fraction = d;
      break;
    case Id::datagram_batch:
      a.datagram_batch = n;
      break;
    case Id::replay_max_age:
      a.max_age_ms = n;
      break;
    case Id::top_stacks:
      a.top_stacks = n;
      break;
    default:
      break;
    }
  }
  void store(Id id, std::vector<uint64_t>& numbers, std::vector<std::string>& strings) {
    if (id == Id::buffer_sizes) out_->advisor.buffer_sizes = std::move(numbers);
    if (id == Id::coalesce_kinds)
      out_->coalesce.kinds = std::move(strings);
    else if (id == Id::coalesce_paths)
      out_->coalesce.paths = std::move(strings);
    else if (id == Id::coalesce_sites)
      out_->coalesce.sites = std::move(strings);
  }

  std::string_view text_;
  Settings* out_;
  std::vector<size_t> starts_;
  std::optional<std::pair<Position, std::string>> first_;
};

[[noreturn]] void fail(const std::string& source, const Position& at, std::string_view message) {
  throw SettingsError(
      fmt::format("{}:{}:{}: {}", printable(source), at.line, at.column, printable(message)));
}

} // namespace

std::vector<uint64_t> default_numbers(Id id) {
  std::vector<uint64_t> out;
  for (const char* p = vs::get(id).def; *p; ++p)
    if (*p >= '0' && *p <= '9' && (p == vs::get(id).def || p[-1] < '0' || p[-1] > '9'))
      out.push_back(std::strtoull(p, nullptr, 10));
  return out;
}

std::vector<std::string> default_strings(Id id) {
  std::vector<std::string> out;
  const std::string_view def = vs::get(id).def;
  for (size_t q = def.find('"'); q != std::string_view::npos; q = def.find('"', q + 1)) {
    const size_t end = def.find('"', q + 1);
    out.emplace_back(def.substr(q + 1, end - q - 1));
    q = end;
  }
  return out;
}

Settings parse_settings(std::string_view text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    fail(source, e.source().begin, e.description());
  }
  Settings s;
  Checker check(text, &s);
  check.root(root);
  check.consistency(root);
  if (auto first = check.first()) fail(source, first->first, first->second);
  return s;
}

Settings load_settings(const std::string& path) {
  const std::string name = printable(path);
  // O_NONBLOCK: a FIFO must not wait for a writer (it is then refused as a FIFO).
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    throw SettingsError(
        fmt::format("{}: cannot read the config file: {}", name, std::strerror(errno)));
  struct ::stat info {};
  std::string text;
  const char* refused = nullptr;
  if (::fstat(fd, &info) != 0)
    refused = std::strerror(errno);
  else if (!S_ISREG(info.st_mode))
    refused = vs::not_regular(info.st_mode);
  else if (info.st_size > static_cast<off_t>(vs::kMaxFileBytes))
    refused = vs::kTooLarge;
  else {
    text.resize(vs::kMaxFileBytes + 1); // one byte more tells a file that grew since fstat
    size_t got = 0;
    while (got < text.size()) {
      const ssize_t r = ::read(fd, text.data() + got, text.size() - got);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) refused = std::strerror(errno);
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    if (got > vs::kMaxFileBytes) refused = vs::kTooLarge;
    text.resize(got);
  }
  ::close(fd);
  if (refused) throw SettingsError(fmt::format("{}: {}", name, refused));
  return parse_settings(text, path);
}

std::string entry_problem(Id id, std::string_view entry) {
  const vs::Setting& s = vs::get(id);
  const Problem p = vs::check_entry(s, entry.data(), entry.size());
  if (p == Problem::ok) return vs::valid_utf8(entry.data(), entry.size()) ? "" : "not valid UTF-8";
  char buf[400];
  vs::Msg m(buf, sizeof buf);
  vs::name(m, s);
  vs::describe(m, s, p, false, entry.data(), entry.size());
  return buf;
}

std::string format_coalesce(const CoalesceSettings& c) {
  auto string = [](std::string_view v) {
    std::string o = "\"";
    for (char ch : v) {
      const auto u = static_cast<unsigned char>(ch);
      if (ch == '"' || ch == '\\')
        o += '\\', o += ch;
      else if (u < 0x20 || u == 0x7f)
        o += fmt::format("\\u{:04X}", u);
      else
        o += ch;
    }
    return o + "\"";
  };
  auto list = [&](const std::vector<std::string>& v) {
    std::string o = "[";
    for (const std::string& x : v)
      o += (o.size() > 1 ? ", " : "") + string(x);
    return o + "]";
  };
  std::string out = "[coalesce]\n";
  for (const vs::Setting& s : vs::kSettings) {
    if (std::string_view(s.key).substr(0, vs::table_length(s)) != "coalesce") continue;
    std::string v;
    switch (s.id) {
    case Id::coalesce_enabled:
      v = c.enabled ? "true" : "false";
      break;
    case Id::coalesce_stdio:
      v = c.stdio ? "true" : "false";
      break;
    case Id::coalesce_size:
      v = std::to_string(c.buffer_size);
      break;
    case Id::coalesce_max_age:
      v = std::to_string(c.max_age_ms);
      break;
    case Id::coalesce_kinds:
      v = list(c.kinds);
      break;
    case Id::coalesce_paths:
      v = list(c.paths);
      break;
    case Id::coalesce_sites:
      v = list(c.sites);
      break;
    default:
      continue;
    }
    out += fmt::format("{} = {}\n", vs::key_name(s), v);
  }
  return out;
}

std::string comment_text(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const auto u = static_cast<unsigned char>(text[i]);
    const size_t k =
        vs::utf8_length(reinterpret_cast<const unsigned char*>(text.data()) + i, text.size() - i);
    if (k == 0 || (u < 0x20 && u != '\t') || u == 0x7f)
      out += '?', ++i;
    else
      out.append(text.substr(i, k)), i += k;
  }
  return out;
}

} // namespace valley::advisor
