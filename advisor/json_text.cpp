// SPDX-License-Identifier: MIT
/// @file json_text.cpp
/// @brief The one way every JSON output of valley is serialized.
#include "json_text.h"

namespace valley::advisor {

std::string json_text(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string json_quote(std::string_view s) { return json_text(nlohmann::json(std::string(s))); }

} // namespace valley::advisor
