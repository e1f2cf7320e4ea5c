// SPDX-License-Identifier: MIT
/// @file json_check.h
/// @brief The fuzz targets' JSON oracle.
#pragma once

#include <string>

namespace valley::fuzz {

/// True when `text` is one well-formed JSON document.
bool json_valid(const std::string& text);

} // namespace valley::fuzz
