// SPDX-License-Identifier: MIT
// docs/hazards.md against the source tree: every hazard id the code cites has a section, the
// contents and the sections agree, and every test and file the page names exists. Reads only
// source files, so it needs nothing built. HazardsDocChecker.* show each check can fail.
#include "hazards_doc.h"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>

namespace fs = std::filesystem;
using namespace valley::docs;

namespace {

const fs::path kRoot = VALLEY_SOURCE_DIR;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v)
    out += "\n  " + s;
  return out;
}

// The places whose hazard citations the page must answer. tests/docs is left out: its
// fixtures cite made-up ids and define made-up tests on purpose.
std::vector<fs::path> cited_files() {
  std::vector<fs::path> out = {kRoot / "README.md"};
  for (const char* top : {"shim", "advisor", "include", "config", "tests", "bench", ".ci"}) {
    if (!fs::is_directory(kRoot / top)) continue;
    for (const auto& e : fs::recursive_directory_iterator(kRoot / top)) {
      if (!e.is_regular_file() || e.file_size() > (1u << 20)) continue;
      if (e.path().lexically_relative(kRoot).string().starts_with("tests/docs/")) continue;
      out.push_back(e.path());
    }
  }
  return out;
}

std::map<std::string, std::string> cited_in_tree() {
  std::map<std::string, std::string> cited;
  for (const fs::path& p : cited_files())
    for (const std::string& id : cited_ids(slurp(p)))
      cited.emplace(id, p.lexically_relative(kRoot).string());
  return cited;
}

TestIndex tests_in_tree() {
  TestIndex index;
  for (const auto& e : fs::recursive_directory_iterator(kRoot / "tests")) {
    const fs::path& p = e.path();
    if (!e.is_regular_file() || p.lexically_relative(kRoot).string().starts_with("tests/docs/"))
      continue;
    if (p.extension() == ".cpp" || p.extension() == ".cc" || p.extension() == ".h")
      index.add_source(slurp(p));
  }
  return index;
}

bool in_tree(const std::string& rel) { return fs::exists(kRoot / rel); }

} // namespace

TEST(HazardsDoc, EveryCitedIdHasASectionAndEverythingNamedExists) {
  const std::string page = slurp(kRoot / "docs/hazards.md");
  ASSERT_FALSE(page.empty()) << "docs/hazards.md is missing";
  const std::map<std::string, std::string> cited = cited_in_tree();
  // The scan itself works: the coalescer's hazard tests cite their ids.
  ASSERT_GT(cited.size(), 10u);
  const Doc doc = parse_doc(page);
  EXPECT_GE(doc.entries.size(), cited.size());
  const std::vector<std::string> wrong = problems(doc, cited, tests_in_tree(), in_tree);
  EXPECT_TRUE(wrong.empty()) << "docs/hazards.md:" << join(wrong);
}

// ---- the checker on small inputs: each check can fail ----

namespace {

// Q is not a letter the citation scan looks for, so the fixtures cite nothing real.
const char* kPage = R"(# Hazards
- [Q-01 A title](#q-01-a-title) — handled
```
### Q-02 In a fence, not a section
```
### Q-01 A title
- **Status:** handled
- **What goes wrong:** x
- **Why it matters:** y
- **What valley does:** z, in `shim/real.cpp`
- **Tests:** `Alpha.Beta`, `P/Gamma.Delta/"one"` (`tests/x_test.cpp`)
)";

const char* kSource = R"(
TEST(Alpha, Beta) {}
TEST_P(Gamma,
       Delta) {}
INSTANTIATE_TEST_SUITE_P(P, Gamma, ::testing::Values("one"));
)";

std::vector<std::string> check(const Doc& d, std::map<std::string, std::string> cited = {}) {
  TestIndex t;
  t.add_source(kSource);
  return problems(d, cited, t, [](const std::string& p) { return p != "tests/missing.cpp"; });
}

} // namespace

TEST(HazardsDocChecker, FindsIdsOnlyAsWholeWords) {
  const std::string b = "B", i = "I";
  const std::string text = "see " + b + "-15 and (" + i + "-08), not X" + b + "-15 or " + b +
                           "-150 or " + b + "-1; " + b + "-01…" + b + "-17";
  EXPECT_EQ(cited_ids(text),
            (std::vector<std::string>{b + "-15", i + "-08", b + "-01", b + "-17"}));
}

TEST(HazardsDocChecker, SubIdsAreIdsOfTheirOwn) {
  const std::string b = "B";
  const std::string text = "see " + b + "-18.3, " + b + "-18. and " + b + "-18.12x or " + b +
                           "-18.4";
  EXPECT_EQ(cited_ids(text), (std::vector<std::string>{b + "-18.3", b + "-18", b + "-18.4"}));
}

TEST(HazardsDocChecker, SlugsFollowGitHub) {
  EXPECT_EQ(slug("B-18 Cases found in CPython's test suite"),
            "b-18-cases-found-in-cpythons-test-suite");
  EXPECT_EQ(slug("I-13 Libraries loaded with RTLD_DEEPBIND"),
            "i-13-libraries-loaded-with-rtld_deepbind");
  EXPECT_EQ(slug("S-05 What Boost.Stacktrace can do"), "s-05-what-booststacktrace-can-do");
}

TEST(HazardsDocChecker, AWellFormedPagePasses) {
  Doc d = parse_doc(kPage);
  ASSERT_EQ(d.entries.size(), 1u) << "a heading inside a fence is not a section";
  EXPECT_EQ(d.entries[0].fields.at("Tests"),
            "`Alpha.Beta`, `P/Gamma.Delta/\"one\"` (`tests/x_test.cpp`)");
  EXPECT_EQ(join(check(d)), "");
}

TEST(HazardsDocChecker, ACitedIdWithoutSectionIsReported) {
  const std::string bogus = std::string("B-") + "99";
  const auto wrong = check(parse_doc(kPage), {{bogus, "shim/x.cpp"}});
  ASSERT_EQ(wrong.size(), 1u) << join(wrong);
  EXPECT_EQ(wrong[0], bogus + " is cited in shim/x.cpp but has no '### " + bogus + "' section");
}

TEST(HazardsDocChecker, UnknownTestsAndFilesAreReported) {
  std::string text = kPage;
  text.replace(text.find("`Alpha.Beta`"), 12,
               "`Alpha.Be-ta`, `Alpha.Gone`, `Q/Gamma.Delta/x`, `dlopen`");
  text.replace(text.find("tests/x_test.cpp"), 16, "tests/missing.cpp");
  const std::string all = join(check(parse_doc(text)));
  EXPECT_NE(all.find("`Alpha.Be-ta` in Tests is neither"), std::string::npos) << all;
  EXPECT_NE(all.find("test `Alpha.Gone` is not defined"), std::string::npos) << all;
  EXPECT_NE(all.find("test `Q/Gamma.Delta/x` is not defined"), std::string::npos) << all;
  EXPECT_NE(all.find("`dlopen` in Tests is neither"), std::string::npos) << all;
  EXPECT_NE(all.find("`tests/missing.cpp` does not exist"), std::string::npos) << all;
}

TEST(HazardsDocChecker, MissingFieldsAndContentsAreReported) {
  std::string text = kPage;
  text.erase(text.find("- **Why it matters:** y\n"), 24);
  text.replace(text.find("— handled"), 11, "— partly");
  std::string all = join(check(parse_doc(text)));
  EXPECT_NE(all.find("no '- **Why it matters:**' field"), std::string::npos) << all;
  EXPECT_NE(all.find("contents say 'partly'"), std::string::npos) << all;

  text = kPage;
  text.erase(0, text.find("```"));
  all = join(check(parse_doc(text)));
  EXPECT_NE(all.find("is missing from the contents (#q-01-a-title)"), std::string::npos) << all;
}

TEST(HazardsDocChecker, NotCoveredMustBeSaid) {
  std::string text = kPage;
  const size_t at = text.find("- **Tests:**");
  text.replace(at, text.size() - at, "- **Tests:** none yet\n");
  EXPECT_NE(join(check(parse_doc(text))).find("does not say 'not covered'"), std::string::npos);
  text.replace(text.find("none yet"), 8, "not covered: needs root");
  EXPECT_EQ(join(check(parse_doc(text))), "");
}
