// SPDX-License-Identifier: MIT
// The README's settings table and config/valley.toml say what include/valley/settings.def
// says. On a difference, regenerate them: build/bin/valley_settings_doc readme|toml.
#include "settings_doc.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace {

std::string slurp(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

TEST(SettingsDocs, ReadmeTableIsTheSettingsTable) {
  const std::string readme = slurp(VALLEY_README);
  const std::string begin = "<!-- settings table: generated",
                    end = "<!-- end of settings table -->";
  const size_t b = readme.find(begin), e = readme.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  const size_t table = readme.find('\n', b) + 1;
  EXPECT_EQ(readme.substr(table, e - table), valley::config_test::readme_table())
      << "regenerate with: build/bin/valley_settings_doc readme";
}

TEST(SettingsDocs, ShippedConfigIsTheSettingsTable) {
  EXPECT_EQ(slurp(VALLEY_SHIPPED_CONFIG), valley::config_test::reference_toml())
      << "regenerate with: build/bin/valley_settings_doc toml > config/valley.toml";
}
