// SPDX-License-Identifier: MIT
// Ground truth for symbolizer_test: a shared library whose call site knows its own line.
// Built -O0 -g so every call stays a real call with its own return address.
#include "symbol_victim.h"

namespace {
__attribute__((noinline)) void* return_address() { return __builtin_return_address(0); }
} // namespace

namespace victim_lib {
void* library_function(int* line) {
  void* ra = return_address();
  *line = __LINE__ - 1; // the line of the call above
  return ra;
}
} // namespace victim_lib
