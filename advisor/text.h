// SPDX-License-Identifier: MIT
/// @file text.h
/// @brief Small text helpers shared by the renderers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace valley::advisor {

/// Control characters and backslashes escaped as \xNN, so one record stays one line.
std::string printable(std::string_view s);

/// argv as a shell would need it typed: plain words bare, others in single quotes.
std::string shell_join(const std::vector<std::string>& argv);

/// "EAGAIN" for 11; "errno 4242" when unknown.
std::string errno_name(int err);

/// Lower bound of log2 histogram bucket `b` (see valley::bucket_of): 0, 1, 2, 4, 8, …
uint64_t bucket_low(uint32_t b);

/// A byte count with a binary unit: "512", "4K", "1M", "3G" (exact powers of two only).
std::string size_label(uint64_t bytes);

} // namespace valley::advisor
