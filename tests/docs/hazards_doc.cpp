// SPDX-License-Identifier: MIT
#include "hazards_doc.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace valley::docs {
namespace {

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool digit(char c) { return c >= '0' && c <= '9'; }

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

// A section may use any capital letter; citations are looked for with kIdLetters only.
// "B-18", or a sub-id "B-18.3": the dot must be followed by digits only.
bool is_id(std::string_view w, std::string_view letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  if (w.size() < 4 || letters.find(w[0]) == std::string_view::npos || w[1] != '-' ||
      !digit(w[2]) || !digit(w[3]))
    return false;
  if (w.size() == 4) return true;
  return w.size() > 5 && w[4] == '.' && std::all_of(w.begin() + 5, w.end(), digit);
}

// The identifier at text[at...], after blanks; empty if none.
std::string_view identifier(std::string_view text, size_t& at) {
  while (at < text.size() && std::isspace(static_cast<unsigned char>(text[at])))
    ++at;
  const size_t from = at;
  while (at < text.size() && word_char(text[at]))
    ++at;
  return text.substr(from, at - from);
}

// "MACRO(First, Second": both identifiers, for each MACRO( that starts a word.
void macro_pairs(std::string_view text, std::string_view macro,
                 const std::function<void(std::string_view, std::string_view)>& f) {
  const std::string open = std::string(macro) + "(";
  for (size_t at = text.find(open); at != std::string_view::npos; at = text.find(open, at + 1)) {
    if (at > 0 && word_char(text[at - 1])) continue;
    size_t p = at + open.size();
    const std::string_view first = identifier(text, p);
    while (p < text.size() && std::isspace(static_cast<unsigned char>(text[p])))
      ++p;
    if (first.empty() || p >= text.size() || text[p] != ',') continue;
    ++p;
    const std::string_view second = identifier(text, p);
    if (!second.empty()) f(first, second);
  }
}

bool all_word_chars(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), word_char);
}

// "handled", "partly" or "not handled": the status word a field or contents line starts with.
std::string status_word(std::string_view s) {
  s = trim(s);
  for (std::string_view w : {"not handled", "handled", "partly"})
    if (s.substr(0, w.size()) == w) return std::string(w);
  return "";
}

constexpr std::array<std::string_view, 4> kRequired = {"What goes wrong", "Why it matters",
                                                       "What valley does", "Tests"};

} // namespace

std::vector<std::string> cited_ids(std::string_view text) {
  std::vector<std::string> out;
  for (size_t at = text.find('-'); at != std::string_view::npos; at = text.find('-', at + 1)) {
    if (at < 1 || at + 2 >= text.size()) continue;
    const size_t from = at - 1;
    if (from > 0 && word_char(text[from - 1])) continue;
    if (at + 3 < text.size() && word_char(text[at + 3])) continue;
    size_t len = 4; // a sub-id goes on with '.' and digits ("B-18.3"); "B-18." ends a sentence
    if (at + 4 < text.size() && text[at + 3] == '.' && digit(text[at + 4])) {
      len = 5;
      while (from + len < text.size() && digit(text[from + len])) ++len;
      if (from + len < text.size() && word_char(text[from + len])) continue;
    }
    const std::string_view w = text.substr(from, len);
    if (is_id(w, kIdLetters)) out.emplace_back(w);
  }
  return out;
}

std::string slug(std::string_view heading) {
  std::string out;
  for (char c : trim(heading)) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_')
      out += static_cast<char>(std::tolower(u));
    else if (c == ' ')
      out += '-';
  }
  return out;
}

std::vector<std::string> backticked(std::string_view text) {
  std::vector<std::string> out;
  for (size_t at = text.find('`'); at != std::string_view::npos;) {
    const size_t end = text.find('`', at + 1);
    if (end == std::string_view::npos) break;
    out.emplace_back(text.substr(at + 1, end - at - 1));
    at = text.find('`', end + 1);
  }
  return out;
}

Doc parse_doc(std::string_view markdown) {
  Doc doc;
  bool fenced = false;
  Entry* entry = nullptr;
  std::string* field = nullptr;
  int n = 0;
  for (std::string_view line : lines_of(markdown)) {
    ++n;
    if (line.substr(0, 3) == "```") {
      fenced = !fenced;
      continue;
    }
    if (fenced) continue;
    for (std::string& w : backticked(line))
      doc.backticked.push_back(std::move(w));
    if (line.substr(0, 2) == "##") { // any heading ends the entry before it
      entry = nullptr;
      field = nullptr;
      if (line.substr(0, 4) != "### ") continue;
      const std::string_view text = trim(line.substr(4));
      const std::string_view id = text.substr(0, text.find(' '));
      if (!is_id(id)) continue;
      doc.entries.push_back(
          {std::string(id), std::string(trim(text.substr(id.size()))), slug(text), n, {}});
      entry = &doc.entries.back();
      continue;
    }
    if (line.substr(0, 3) == "- [" && !entry) {
      const size_t a = line.find("](#"), b = line.find(')', a == std::string_view::npos ? 0 : a);
      if (a == std::string_view::npos || b == std::string_view::npos) continue;
      const size_t dash = line.find("—", b);
      doc.toc.push_back({std::string(line.substr(a + 3, b - a - 3)),
                         dash == std::string_view::npos ? "" : status_word(line.substr(dash + 3)),
                         n});
      continue;
    }
    if (!entry) continue;
    if (line.substr(0, 4) == "- **") {
      const size_t end = line.find(":**");
      if (end == std::string_view::npos) {
        field = nullptr;
        continue;
      }
      field = &entry->fields[std::string(line.substr(4, end - 4))];
      *field = std::string(trim(line.substr(end + 3)));
    } else if (field && line.substr(0, 2) == "  ") {
      *field += ' ';
      *field += trim(line);
    } else {
      field = nullptr;
    }
  }
  return doc;
}

void TestIndex::add_source(std::string_view text) {
  for (std::string_view m : {"TEST", "TEST_F", "TEST_P"})
    macro_pairs(text, m, [&](std::string_view suite, std::string_view name) {
      tests.insert(std::string(suite) + "." + std::string(name));
    });
  macro_pairs(text, "INSTANTIATE_TEST_SUITE_P",
              [&](std::string_view prefix, std::string_view suite) {
                instantiations.insert(std::string(prefix) + "/" + std::string(suite));
              });
}

bool TestIndex::has(std::string_view name) const {
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos) return false;
  std::string_view suite = name.substr(0, dot), test = name.substr(dot + 1);
  const size_t slash = suite.find('/');
  const bool param = slash != std::string_view::npos;
  if (param) {
    if (!instantiations.count(std::string(suite))) return false;
    suite = suite.substr(slash + 1);
    test = test.substr(0, test.find('/'));
  }
  return tests.count(std::string(suite) + "." + std::string(test)) > 0;
}

bool looks_like_repo_path(std::string_view w) {
  for (std::string_view top :
       {"shim/", "advisor/", "include/", "config/", "tests/", "bench/", "docs/", ".ci/"})
    if (w.substr(0, top.size()) == top) return w.find_first_of(" <>*$") == std::string_view::npos;
  return w == "README.md" || w == "CMakeLists.txt";
}

bool looks_like_test_name(std::string_view w) {
  const size_t dot = w.find('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  std::string_view suite = w.substr(0, dot), test = w.substr(dot + 1);
  const size_t slash = suite.find('/');
  if (slash != std::string_view::npos) {
    if (!all_word_chars(suite.substr(0, slash))) return false;
    suite = suite.substr(slash + 1);
    if (test.find('/') == std::string_view::npos) return false; // a parameter must follow
    test = test.substr(0, test.find('/'));
  }
  return all_word_chars(suite) && std::isupper(static_cast<unsigned char>(suite[0])) &&
         all_word_chars(test);
}

std::vector<std::string> problems(const Doc& doc, const std::map<std::string, std::string>& cited,
                                  const TestIndex& tests,
                                  const std::function<bool(const std::string&)>& exists) {
  std::vector<std::string> out;
  std::map<std::string, const Entry*> by_id;
  std::map<std::string, const Entry*> by_slug;
  for (const Entry& e : doc.entries) {
    const std::string at = "line " + std::to_string(e.line) + ": " + e.id;
    if (!by_id.emplace(e.id, &e).second) out.push_back(at + " has a second section");
    by_slug.emplace(e.slug, &e);
    const auto status = e.fields.find("Status");
    const std::string word = status == e.fields.end() ? "" : status_word(status->second);
    if (word.empty()) {
      out.push_back(at + ": no '- **Status:** handled | partly | not handled' line");
      continue;
    }
    if (word == "not handled" && !e.fields.count("Tests")) continue; // a one-line entry
    for (std::string_view f : kRequired)
      if (!e.fields.count(std::string(f)))
        out.push_back(at + ": no '- **" + std::string(f) + ":**' field");
    const auto t = e.fields.find("Tests");
    if (t == e.fields.end()) continue;
    int named = 0;
    for (const std::string& w : backticked(t->second)) {
      if (looks_like_repo_path(w)) continue; // checked with every path below
      if (!looks_like_test_name(w)) {
        out.push_back(at + ": `" + w + "` in Tests is neither a test name nor a repository file");
      } else if (!tests.has(w)) {
        out.push_back(at + ": test `" + w +
                      "` is not defined in tests/ (TEST, TEST_F, TEST_P, "
                      "INSTANTIATE_TEST_SUITE_P)");
      }
      ++named;
    }
    if (named == 0 && t->second.find("not covered") == std::string::npos)
      out.push_back(at + ": Tests names no test and does not say 'not covered'");
  }
  for (const auto& [id, file] : cited)
    if (!by_id.count(id))
      out.push_back(id + " is cited in " + file + " but has no '### " + id + "' section");
  std::set<std::string> listed;
  for (const TocLine& c : doc.toc) {
    listed.insert(c.anchor);
    const auto e = by_slug.find(c.anchor);
    if (e == by_slug.end()) {
      out.push_back("line " + std::to_string(c.line) + ": contents link #" + c.anchor +
                    " matches no section");
    } else if (c.status != status_word(e->second->fields.count("Status")
                                           ? e->second->fields.at("Status")
                                           : "")) {
      out.push_back("line " + std::to_string(c.line) + ": contents say '" + c.status + "' for " +
                    e->second->id + ", its section says otherwise");
    }
  }
  for (const Entry& e : doc.entries)
    if (!listed.count(e.slug))
      out.push_back(e.id + " is missing from the contents (#" + e.slug + ")");
  std::set<std::string> paths;
  for (const std::string& w : doc.backticked)
    if (looks_like_repo_path(w)) paths.insert(w);
  for (const std::string& p : paths)
    if (!exists(p)) out.push_back("`" + p + "` does not exist in the repository");
  return out;
}

} // namespace valley::docs
