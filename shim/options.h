// SPDX-License-Identifier: MIT
/// @file options.h
/// @brief The shim's settings: the VALLEY_* variables of include/valley/settings.def, read
/// once at load, and the coalescing settings they share with valley.toml's [coalesce] table.
#pragma once

#include "coalesce/coalesce.h"
#include "valley/settings.h"

#include <cstddef>
#include <cstdint>

namespace valley::shim {

// The fields every call reads come first: they share a page with the other hot variables.
struct Options {
  uint32_t ring_events;     ///< VALLEY_RING_EVENTS
  bool events;              ///< VALLEY_EVENTS
  uint32_t stack_sample;    ///< VALLEY_STACK_SAMPLE
  uint32_t max_frames;      ///< VALLEY_MAX_FRAMES
  bool off;                 ///< VALLEY_OFF
  bool python;              ///< VALLEY_PYTHON
  bool verbose;             ///< VALLEY_VERBOSE
  char dir[1024];           ///< VALLEY_DIR: the run directory (absolute once resolved)
  char only[256];           ///< VALLEY_ONLY: a glob the executable must match to be traced
  char config[1024];        ///< VALLEY_CONFIG: a valley.toml whose [coalesce] table the shim reads
  CoalesceOptions coalesce; ///< [coalesce] from the config file, then VALLEY_COALESCE* on top
};

/// Reads the VALLEY_* variables from `env` (an environ-style array). On a bad value prints one
/// `valley:` line naming the variable and returns false: the caller then stays untraced.
/// Unknown VALLEY_* names get a warning line and are ignored. A bad coalescing setting (in the
/// environment or the config file) prints one line and leaves coalescing off, tracing on.
bool read_options(char** env, Options* out);

} // namespace valley::shim
