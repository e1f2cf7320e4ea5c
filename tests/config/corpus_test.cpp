// SPDX-License-Identifier: MIT
// I-18, the shared corpus: the shim's valley.toml reader and the advisor's give every file in
// corpus/ the verdict corpus/expected.txt names (accept, or refuse at LINE:COL saying so), and
// read the same [coalesce] values from the files they accept. fuzz/regressions/ keeps inputs
// the fuzz targets caught the readers disagreeing on (so far only with a seeded bug: vertical
// tab, form feed and no-break space taken as whitespace by the shim's reader).
#include "readers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

using namespace valley;
using config_test::Verdict;
namespace fs = std::filesystem;

namespace {

const fs::path kHere = VALLEY_CONFIG_TEST_DIR;

struct Expected {
  bool ok = false;
  uint32_t line = 0, col = 0;
  std::string message;
};

std::map<std::string, Expected> manifest() {
  std::map<std::string, Expected> out;
  std::ifstream in(kHere / "corpus" / "expected.txt");
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string file, where;
    words >> file >> where;
    Expected e;
    e.ok = where == "ok";
    if (!e.ok) {
      EXPECT_EQ(std::sscanf(where.c_str(), "%u:%u", &e.line, &e.col), 2) << line;
      std::getline(words >> std::ws, e.message);
    }
    EXPECT_TRUE(out.emplace(file, e).second) << file << " is listed twice";
  }
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void expect(const char* reader, const Verdict& got, const Expected& want) {
  SCOPED_TRACE(reader);
  EXPECT_EQ(got.ok, want.ok) << config_test::describe(got);
  if (want.ok || got.ok) return;
  EXPECT_EQ(got.line, want.line) << got.message;
  EXPECT_EQ(got.col, want.col) << got.message;
  EXPECT_NE(got.message.find(want.message), std::string::npos) << got.message;
}

} // namespace

TEST(ConfigCorpus, ListsEveryFileOnce) {
  std::set<std::string> files, listed;
  for (const auto& e : fs::directory_iterator(kHere / "corpus"))
    if (e.path().extension() == ".toml") files.insert(e.path().filename().string());
  for (const auto& [file, _] : manifest())
    listed.insert(file);
  EXPECT_EQ(files, listed);
  EXPECT_GE(files.size(), 70u);
}

TEST(ConfigCorpus, BothReadersGiveTheExpectedVerdict) {
  for (const auto& [file, want] : manifest()) {
    SCOPED_TRACE(file);
    const std::string text = slurp(kHere / "corpus" / file);
    expect("shim", config_test::shim_reads(text), want);
    expect("advisor", config_test::advisor_reads(text), want);
  }
}

TEST(ConfigCorpus, AcceptedFilesReadTheSameOnBothSides) {
  size_t accepted = 0;
  for (const auto& [file, want] : manifest()) {
    const std::string text = slurp(kHere / "corpus" / file);
    const Verdict shim = config_test::shim_reads(text), advisor = config_test::advisor_reads(text);
    EXPECT_EQ(config_test::disagreement(shim, advisor), "") << file;
    accepted += shim.ok && advisor.ok;
  }
  EXPECT_GE(accepted, 15u);
}

TEST(ConfigCorpus, FuzzRegressionInputsAgree) {
  for (const auto& e : fs::directory_iterator(kHere / "fuzz" / "regressions")) {
    const std::string text = slurp(e.path());
    EXPECT_EQ(
        config_test::disagreement(config_test::shim_reads(text), config_test::advisor_reads(text)),
        "")
        << e.path().filename();
  }
}

TEST(ConfigCorpus, ShippedConfigIsTheDefaultsOnBothSides) {
  const std::string text = slurp(VALLEY_SHIPPED_CONFIG);
  const Verdict shim = config_test::shim_reads(text), advisor = config_test::advisor_reads(text);
  ASSERT_TRUE(shim.ok) << config_test::describe(shim);
  ASSERT_TRUE(advisor.ok) << config_test::describe(advisor);
  EXPECT_TRUE(shim.values == advisor::CoalesceSettings{}) << config_test::describe(shim);
  EXPECT_TRUE(advisor.values == advisor::CoalesceSettings{}) << config_test::describe(advisor);
  const advisor::Settings s = advisor::parse_settings(text, "valley.toml");
  const advisor::AdvisorSettings d;
  EXPECT_EQ(s.advisor.min_calls, d.min_calls);
  EXPECT_EQ(s.advisor.min_saving, d.min_saving);
  EXPECT_EQ(s.advisor.sequential_fraction, d.sequential_fraction);
  EXPECT_EQ(s.advisor.buffer_sizes, d.buffer_sizes);
  EXPECT_EQ(s.advisor.top_stacks, d.top_stacks);
}

// What both readers make of escapes, literal strings and non-ASCII text, byte for byte.
TEST(ConfigValues, StringsAreDecodedTheSameWay) {
  const std::string text = slurp(kHere / "corpus" / "valid_escapes.toml");
  const std::vector<std::string> paths = {"/tmp/tab\there/*", "/data/\xc3\xa9t\xc3\xa9/*.log",
                                          "/q/\"quoted\"/\\back\\slash", "/lit\\eral/*",
                                          "/emoji/\xf0\x9f\x98\x80"};
  const std::vector<std::string> sites = {"libstdc++.so.6+0x1a2b", "caf\xc3\xa9+0x0"};
  for (const Verdict& v : {config_test::shim_reads(text), config_test::advisor_reads(text)}) {
    ASSERT_TRUE(v.ok) << config_test::describe(v);
    EXPECT_EQ(v.values.paths, paths);
    EXPECT_EQ(v.values.sites, sites);
  }
}

TEST(ConfigValues, NumbersInEveryBaseAndTheEdgeOfOne) {
  const Verdict shim = config_test::shim_reads(slurp(kHere / "corpus" / "valid_numbers.toml"));
  ASSERT_TRUE(shim.ok);
  EXPECT_EQ(shim.values.buffer_size, 65536u); // 0x1_0000
  EXPECT_EQ(shim.values.max_age_ms, 5u);      // +5
  const advisor::Settings s =
      advisor::parse_settings(slurp(kHere / "corpus" / "valid_numbers.toml"), "n.toml");
  EXPECT_EQ(s.advisor.min_calls, 1000u);
  EXPECT_EQ(s.advisor.top_stacks, 3u);
  EXPECT_EQ(s.advisor.gather_max_burst, 8u);
  EXPECT_EQ(s.advisor.buffer_sizes, (std::vector<uint64_t>{512, 1024, 1048576}));
  const advisor::Settings f = advisor::parse_settings(
      slurp(kHere / "corpus" / "valid_fraction_rounds_to_one.toml"), "f.toml");
  EXPECT_EQ(f.advisor.min_saving, 1.0);
  EXPECT_EQ(f.advisor.sequential_fraction, 1.0);
}
