// SPDX-License-Identifier: MIT
/// @file options.h
/// @brief The shim's settings: one table of VALLEY_* environment variables, read once at load.
#pragma once

#include <cstdint>

namespace valley::shim {

struct Options {
  char dir[1024];          ///< VALLEY_DIR: the run directory (absolute once resolved)
  uint32_t ring_events;    ///< VALLEY_RING_EVENTS
  bool events;             ///< VALLEY_EVENTS
  uint32_t stack_sample;   ///< VALLEY_STACK_SAMPLE
  uint32_t max_frames;     ///< VALLEY_MAX_FRAMES
  bool off;                ///< VALLEY_OFF
  bool verbose;            ///< VALLEY_VERBOSE
};

/// Reads the VALLEY_* variables from `env` (an environ-style array). On a bad value prints one
/// `valley:` line naming the variable and returns false: the caller then stays untraced.
/// Unknown VALLEY_* names get a warning line and are ignored.
bool read_options(char** env, Options* out);

} // namespace valley::shim
