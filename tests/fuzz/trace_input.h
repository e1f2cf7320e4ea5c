// SPDX-License-Identifier: MIT
/// @file trace_input.h
/// @brief The byte layout of one input of the trace fuzz target: a run directory with one
/// trace, `1-0.vseg` and (maybe) `1-0.vev`, in one buffer so that libFuzzer mutates both.
///
///   uint32 (little-endian) word: bits 0..30 the segment's length, bit 31 set: no .vev file
///   the segment's bytes (fewer if the input ends first)
///   the rest: the .vev file's bytes
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace valley::fuzz {

inline constexpr uint32_t kNoEventsFile = 1u << 31;

struct TraceInput {
  std::string_view segment, events;
  bool events_file = true;
};

inline TraceInput split_trace_input(const uint8_t* data, size_t size) {
  TraceInput in;
  uint32_t word = 0;
  if (size < sizeof word) {
    in.segment = {reinterpret_cast<const char*>(data), size};
    in.events_file = false;
    return in;
  }
  std::memcpy(&word, data, sizeof word);
  const char* p = reinterpret_cast<const char*>(data) + sizeof word;
  size_t rest = size - sizeof word;
  size_t seg = std::min<size_t>(word & ~kNoEventsFile, rest);
  in.segment = {p, seg};
  in.events = {p + seg, rest - seg};
  in.events_file = !(word & kNoEventsFile);
  return in;
}

inline std::string join_trace_input(const std::string& segment, const std::string* events) {
  uint32_t word = static_cast<uint32_t>(segment.size()) | (events ? 0 : kNoEventsFile);
  std::string out(sizeof word, '\0');
  std::memcpy(out.data(), &word, sizeof word);
  out += segment;
  if (events) out += *events;
  return out;
}

} // namespace valley::fuzz
