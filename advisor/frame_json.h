// SPDX-License-Identifier: MIT
/// @file frame_json.h
/// @brief The parts of a frame's JSON that `valley dump` and `valley report` share.
#pragma once

#include "symbolizer.h"

#include <nlohmann/json.hpp>

namespace valley::advisor {

/// Frame::inlined_into as [{"function", "file", "line"}], innermost first. Unknown values are
/// null when `null_unknown` (the dump's convention), else "" and 0 (the report's).
nlohmann::json inlined_json(const Frame& f, bool null_unknown);

} // namespace valley::advisor
