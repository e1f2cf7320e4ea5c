// SPDX-License-Identifier: MIT
/// @file settings_doc.h
/// @brief The README's settings table and config/valley.toml, generated from
/// include/valley/settings.def: the docs test compares them, valley_settings_doc prints them.
#pragma once

#include <string>

namespace valley::config_test {

/// The markdown table between the README's settings-table markers.
std::string readme_table();
/// The whole of config/valley.toml: every valley.toml setting at its default, commented.
std::string reference_toml();

} // namespace valley::config_test
