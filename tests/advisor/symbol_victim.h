// SPDX-License-Identifier: MIT
// The function symbol_victim_lib.cpp exports to symbol_victim.cpp.
#pragma once

namespace victim_lib {
/// Returns a return address inside this function and the source line of that call.
void* library_function(int* line);
} // namespace victim_lib
