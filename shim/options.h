// SPDX-License-Identifier: MIT
/// @file options.h
/// @brief The shim's settings: the VALLEY_* variables of include/valley/settings.def, read
/// once at load, and the coalescing settings they share with valley.toml's [coalesce] table.
#pragma once

#include "coalesce.h"
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
  bool verbose;             ///< VALLEY_VERBOSE
  char dir[1024];           ///< VALLEY_DIR: the run directory (absolute once resolved)
  char config[1024];        ///< VALLEY_CONFIG: a valley.toml whose [coalesce] table the shim reads
  CoalesceOptions coalesce; ///< [coalesce] from the config file, then VALLEY_COALESCE* on top
};

/// Reads the VALLEY_* variables from `env` (an environ-style array). On a bad value prints one
/// `valley:` line naming the variable and returns false: the caller then stays untraced.
/// Unknown VALLEY_* names get a warning line and are ignored. A bad coalescing setting (in the
/// environment or the config file) prints one line and leaves coalescing off, tracing on.
bool read_options(char** env, Options* out);

/// The coalescing settings' defaults, from the settings table.
void coalesce_defaults(CoalesceOptions* o);
/// Stores a checked flag or count of a coalescing setting (others are ignored).
void coalesce_set(CoalesceOptions* o, settings::Id id, uint64_t v);
/// Empties a list setting (kinds, paths, sites) before its entries are added.
void coalesce_list_clear(CoalesceOptions* o, settings::Id id);
/// Checks one entry of kinds, paths or sites and adds it; the same check for VALLEY_* and
/// valley.toml. Returns what is wrong with it (Problem::ok: added).
settings::Problem coalesce_list_add(CoalesceOptions* o, const settings::Setting& s, const char* e,
                                    size_t n);

} // namespace valley::shim
