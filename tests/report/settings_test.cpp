// SPDX-License-Identifier: MIT
// Settings: the shipped config parses to the defaults; every error names FILE:LINE:COL.
#include "settings.h"

#include <gtest/gtest.h>

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
