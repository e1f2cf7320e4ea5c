// SPDX-License-Identifier: MIT
// The fuzz targets' JSON oracle, in its own file: built without coverage instrumentation
// (tests/fuzz/CMakeLists.txt) so that the parser's branches do not count as new behaviour of
// the code under test, which would slow the fuzzer down.
#include "json_check.h"

#include <nlohmann/json.hpp>

namespace valley::fuzz {

bool json_valid(const std::string& text) { return nlohmann::json::accept(text); }

} // namespace valley::fuzz
