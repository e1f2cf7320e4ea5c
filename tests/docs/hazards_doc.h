// SPDX-License-Identifier: MIT
/// @file hazards_doc.h
/// @brief Reads docs/hazards.md and the source tree as plain text, so the page can be checked
/// against the code without a build: the hazard ids the code cites, the entries the page has,
/// and the gtest names the test sources define.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace valley::docs {

/// Hazard ids cited in text: a letter of kIdLetters, '-', two digits, optionally '.' and digits
/// (a sub-id, "B-18.3"), as a whole word.
inline constexpr std::string_view kIdLetters = "BIRS";
std::vector<std::string> cited_ids(std::string_view text);

/// GitHub's anchor for a heading: lower case, letters, digits, '-' and '_' kept, spaces to '-'.
std::string slug(std::string_view heading);

/// One `### <id> <title>` section and its `- **Label:** text` fields (continuation lines
/// joined). Lines inside ``` fences are not read.
struct Entry {
  std::string id, title, slug;
  int line = 0;
  std::map<std::string, std::string> fields;
};
/// A contents line: `- [text](#anchor) — status`.
struct TocLine {
  std::string anchor, status;
  int line = 0;
};
struct Doc {
  std::vector<Entry> entries;
  std::vector<TocLine> toc;
  std::vector<std::string> backticked; ///< every `code span` outside fences
};
Doc parse_doc(std::string_view markdown);

/// The words inside backticks.
std::vector<std::string> backticked(std::string_view text);

/// gtest names the sources define: "Suite.Name" for TEST, TEST_F and TEST_P, and
/// "Prefix/Suite" for INSTANTIATE_TEST_SUITE_P.
struct TestIndex {
  std::set<std::string> tests, instantiations;
  void add_source(std::string_view text);
  /// Whether a name as ctest lists it exists: `Suite.Name` or `Prefix/Suite.Name/param` (the
  /// parameter itself is not checked: name generators rewrite it).
  bool has(std::string_view ctest_name) const;
};

/// Whether a backticked word names a file of the repository (shim/…, tests/…, …).
bool looks_like_repo_path(std::string_view word);
/// Whether a backticked word has the shape of a ctest name of a gtest.
bool looks_like_test_name(std::string_view word);

/// Everything wrong with the page, one message each. `cited`: id -> a file citing it.
/// `exists`: whether a repository-relative path exists.
std::vector<std::string> problems(const Doc& doc, const std::map<std::string, std::string>& cited,
                                  const TestIndex& tests,
                                  const std::function<bool(const std::string&)>& exists);

} // namespace valley::docs
