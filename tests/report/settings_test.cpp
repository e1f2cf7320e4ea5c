// SPDX-License-Identifier: MIT
// Settings: the shipped config parses to the defaults; every error names FILE:LINE:COL; what
// --emit-config writes reads back the same.
#include "report.h"
#include "rules/rule.h"
#include "settings.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>

using namespace valley::advisor;

namespace {

std::string error_of(const std::string& text) {
  try {
    parse_settings(text, "t.toml");
  } catch (const SettingsError& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST(Settings, ShippedConfigIsTheDefaults) {
  Settings s = load_settings(VALLEY_CONFIG_FILE);
  AdvisorSettings d;
  EXPECT_EQ(s.advisor.min_calls, d.min_calls);
  EXPECT_EQ(s.advisor.buffer_sizes, d.buffer_sizes);
  EXPECT_EQ(s.advisor.max_age_ms, d.max_age_ms);
  EXPECT_FALSE(s.coalesce.enabled);
  EXPECT_EQ(s.coalesce.kinds, std::vector<std::string>{"file"});
}

TEST(Settings, ValuesAreRead) {
  Settings s = parse_settings("[advisor]\nmin_calls = 7\nmin_saving = 0.5\n"
                              "[coalesce]\nenabled = true\nsites = [\"a+0x1\"]\nkinds = [\"tcp\", \"pipe\"]\n",
                              "t.toml");
  EXPECT_EQ(s.advisor.min_calls, 7u);
  EXPECT_DOUBLE_EQ(s.advisor.min_saving, 0.5);
  EXPECT_TRUE(s.coalesce.enabled);
  EXPECT_EQ(s.coalesce.sites, std::vector<std::string>{"a+0x1"});
}

TEST(Settings, UnknownKeyNamesLineAndColumn) {
  EXPECT_EQ(error_of("[advisor]\n  min_cals = 3\n").rfind("t.toml:2:3: unknown key 'min_cals'", 0), 0u)
      << error_of("[advisor]\n  min_cals = 3\n");
}

TEST(Settings, BadTypesAndRangesAreErrors) {
  EXPECT_EQ(error_of("[advisor]\nmin_calls = \"x\"\n").rfind("t.toml:2:13:", 0), 0u);
  EXPECT_EQ(error_of("[advisor]\nmin_saving = 2\n").rfind("t.toml:2:14:", 0), 0u);
  EXPECT_EQ(error_of("[coalesce]\nkinds = [\"udp\"]\n").rfind("t.toml:2:10:", 0), 0u);
  EXPECT_EQ(error_of("[coalesce]\nenabled = 1\n").rfind("t.toml:2:11:", 0), 0u);
  EXPECT_EQ(error_of("[advisr]\n").rfind("t.toml:1:2: unknown table", 0), 0u);
  EXPECT_EQ(error_of("[advisor]\nmin_calls = \n").rfind("t.toml:2:", 0), 0u); // syntax error
}

TEST(Settings, NotANumberAndInfinityAreOutOfRange) {
  EXPECT_EQ(error_of("[advisor]\nmin_saving = nan\n"),
            "t.toml:2:14: 'advisor.min_saving' must be a number in 0..1");
  EXPECT_EQ(error_of("[advisor]\nsequential_fraction = -inf\n").rfind("t.toml:2:23:", 0), 0u);
  EXPECT_EQ(error_of("[advisor]\nmin_saving = 0.5\n"), "");
}

TEST(Settings, DefaultsComeFromTheSettingsTable) {
  const AdvisorSettings a;
  EXPECT_EQ(a.min_calls, 100u);
  EXPECT_EQ(a.min_saving, 0.3);
  EXPECT_EQ(a.sequential_fraction, 0.8);
  EXPECT_EQ(a.buffer_sizes, (std::vector<uint64_t>{4096, 16384, 65536, 262144, 1048576}));
  const CoalesceSettings c;
  EXPECT_FALSE(c.enabled);
  EXPECT_EQ(c.buffer_size, 65536u);
  EXPECT_EQ(c.kinds, std::vector<std::string>{"file"});
  EXPECT_TRUE(c.paths.empty());
}

// What --emit-config writes reads back as it was, escapes and all.
TEST(Settings, WrittenCoalesceTableReadsBackTheSame) {
  CoalesceSettings c;
  c.enabled = true;
  c.buffer_size = 4096;
  c.max_age_ms = 20;
  c.kinds = {"file", "pipe"};
  c.paths = {"/tmp/a \"quoted\" \\ path/*", "/tab\there/\xc3\xa9*", "/ctl\x1b[0m/*"};
  c.sites = {"libstdc++.so.6+0x1a2b", "app+0x0"};
  c.stdio = true;
  const std::string text = format_coalesce(c);
  EXPECT_EQ(parse_settings(text, "w.toml").coalesce, c) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text; // written as \u001B
}

TEST(Settings, EntriesThatCannotBeWrittenSayWhy) {
  using valley::settings::Id;
  EXPECT_EQ(entry_problem(Id::coalesce_sites, "app+0x1a"), "");
  EXPECT_NE(entry_problem(Id::coalesce_sites, "a,b.so+0x1").find("may not contain ','"),
            std::string::npos);
  EXPECT_NE(entry_problem(Id::coalesce_sites, "app+0x01").find("is not a call site"),
            std::string::npos);
  EXPECT_EQ(entry_problem(Id::coalesce_sites, "caf\xe9+0x1"), "not valid UTF-8");
  EXPECT_EQ(comment_text("a\nb\xff\tc\xc3\xa9"), "a?b?\tc\xc3\xa9");
}

// --emit-config on a run whose names are hostile: every line stays a comment or a setting,
// entries valley.toml cannot hold are left out with a note, and the file reads back.
TEST(Settings, EmittedConfigSurvivesHostileNames) {
  std::vector<SiteAgg> sites(3);
  std::vector<Finding> findings;
  for (SiteAgg& a : sites) {
    a.kind = static_cast<uint8_t>(valley::FdKind::regular);
    a.frame.module = "/x/app";
    a.frame.function = "f\n[coalesce]\nenabled = false";
  }
  sites[0].shim_sites = {"app+0x10"};
  sites[1].shim_sites = {"we,ird.so+0x20", "caf\xe9.so+0x30"}; // a separator; not UTF-8
  sites[2].frame.module = "/x/lib\nx";
  for (int i = 0; i < 300; ++i)
    sites[2].shim_sites.insert(fmt::format("libmodule{:03}.so+0x{:x}", i, 0x1000 + i));
  for (SiteAgg& a : sites) {
    Finding f;
    f.rule = "small-writes";
    f.site = &a;
    f.coalescible = true;
    f.replay = ReplayResult{};
    f.replay->buffer_size = 16384;
    findings.push_back(f);
  }
  const std::string cfg = coalesce_config(findings, {});
  const Settings s = parse_settings(cfg, "emitted.toml");
  EXPECT_TRUE(s.coalesce.enabled);
  EXPECT_EQ(s.coalesce.buffer_size, 16384u);
  EXPECT_TRUE(std::count(s.coalesce.sites.begin(), s.coalesce.sites.end(), "app+0x10")) << cfg;
  size_t joined = 0;
  for (const std::string& x : s.coalesce.sites)
    joined += x.size() + 1;
  EXPECT_LE(joined - 1, 4095u);
  EXPECT_NE(cfg.find("# not listed: we,ird.so+0x20"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("the list of sites is full"), std::string::npos) << cfg;
}
