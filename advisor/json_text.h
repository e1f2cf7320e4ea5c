// SPDX-License-Identifier: MIT
/// @file json_text.h
/// @brief The one way every JSON output of valley is serialized.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace valley::advisor {

/// `j` as JSON text (compact, or pretty with `indent` >= 0). R-07: Paths, argv, symbol names and
/// file names come from traces and the file system: bytes, not necessarily UTF-8. Each
/// maximal ill-formed UTF-8 subsequence becomes U+FFFD (Unicode's "substitution of maximal
/// subparts") instead of throwing. The schema docs (dump-json.md, report-json.md) say so.
std::string json_text(const nlohmann::json& j, int indent = -1);

/// A JSON string literal (with its quotes) for `s`, escaped the same way.
std::string json_quote(std::string_view s);

} // namespace valley::advisor
