// SPDX-License-Identifier: MIT
/// @file text.h
/// @brief Small text helpers shared by the renderers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace valley::advisor {

/// Text from a trace made safe for a terminal: every byte that is not well-formed UTF-8,
/// every control character (C0, DEL, C1), the bidi and line-separator marks and the backslash are
/// written as \xNN, one per byte. One record stays one line, a traced program cannot send
/// escape sequences to the reader's terminal, and the bytes can be read back exactly.
std::string printable(std::string_view s);

/// The file name of a path: what follows its last '/'.
std::string base_name(const std::string& path);

/// argv as a shell would need it typed: plain words bare, others in single quotes.
std::string shell_join(const std::vector<std::string>& argv);

/// "EAGAIN" for 11; "errno 4242" when unknown. 64-bit: a record's -result may be 2^31.
std::string errno_name(int64_t err);

/// Lower bound of log2 histogram bucket `b` (see valley::bucket_of): 0, 1, 2, 4, 8, …
uint64_t bucket_low(uint32_t b);

/// A byte count with a binary unit: "512", "4K", "1M", "3G" (exact powers of two only).
std::string size_label(uint64_t bytes);

/// `v` rounded toward zero into [0, UINT64_MAX]: casting a double outside that range (a tick
/// count from a damaged trace times ns per tick) is undefined behaviour.
uint64_t saturate_u64(double v);

/// "850ns", "1.23us", "12.3ms", "4.50s"
std::string format_ns(double ns);

} // namespace valley::advisor
