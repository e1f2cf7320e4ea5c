// SPDX-License-Identifier: MIT
/// @file diag.h
/// @brief The shim's only way to talk: one `valley: …` line on stderr, rate-limited.
/// Never exits, never throws, never allocates.
#pragma once

namespace valley::shim {

/// Prints "valley: <a><b><c>\n" to fd 2 with a raw write. At most 16 lines per process.
void diag(const char* a, const char* b = nullptr, const char* c = nullptr);

} // namespace valley::shim
