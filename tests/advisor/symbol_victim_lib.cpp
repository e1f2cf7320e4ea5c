// SPDX-License-Identifier: MIT
// Ground truth for symbolizer_test: a shared library whose call site knows its own line.
// Built -O0 -g so every call stays a real call with its own return address.
#include "symbol_victim.h"

namespace {
// Stores rather than returns, so that nothing of the call's line follows the call: the return
// address then belongs to the next line, and only address - 1 finds the call's line.
__attribute__((noinline)) void capture_return_address(void** out) {
  *out = __builtin_return_address(0);
}
} // namespace

namespace victim_lib {
void* library_function(int* line) {
  void* ra = nullptr;
  capture_return_address(&ra);
  *line = __LINE__ - 1; // the line of the call above
  return ra;
}
} // namespace victim_lib
