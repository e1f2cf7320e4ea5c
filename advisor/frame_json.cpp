// SPDX-License-Identifier: MIT
/// @file frame_json.cpp
#include "frame_json.h"

namespace valley::advisor {

nlohmann::json inlined_json(const Frame& f, bool null_unknown) {
  nlohmann::json out = nlohmann::json::array();
  auto text = [&](const std::string& s) {
    return s.empty() && null_unknown ? nlohmann::json(nullptr) : nlohmann::json(s);
  };
  for (const InlinedCall& c : f.inlined_into)
    out.push_back(
        {{"function", text(c.function)},
         {"file", text(c.file)},
         {"line", c.line == 0 && null_unknown ? nlohmann::json(nullptr) : nlohmann::json(c.line)}});
  return out;
}

} // namespace valley::advisor
