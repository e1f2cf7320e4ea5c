// SPDX-License-Identifier: MIT
// valley_settings_doc readme|toml: prints the README's settings table or config/valley.toml as
// include/valley/settings.def says they should be (tests/config's docs test compares them).
#include "settings_doc.h"

#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "readme") == 0)
    std::fputs(valley::config_test::readme_table().c_str(), stdout);
  else if (argc == 2 && std::strcmp(argv[1], "toml") == 0)
    std::fputs(valley::config_test::reference_toml().c_str(), stdout);
  else {
    std::fputs("usage: valley_settings_doc readme|toml\n", stderr);
    return 2;
  }
  return 0;
}
