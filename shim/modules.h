// SPDX-License-Identifier: MIT
/// @file modules.h
/// @brief The module map (path, load bias, address range, build-id of every loaded image),
/// so frames can be symbolized after the process is gone.
#pragma once

#include "segment.h"

namespace valley::shim {

/// Appends rows for images loaded since the last call (dlopen). Skipped while another
/// thread refreshes: never waits.
void modules_refresh(Segment& seg);

/// Index of the latest module row containing addr, or -1. With `refresh`, an unknown address
/// triggers one refresh first.
int module_of(Segment& seg, uint64_t addr, bool refresh);

/// Finds libvalley's own address range (once). in_self() is false for everything before.
void find_self_range();

/// True if addr lies in libvalley itself (its frames are dropped from stacks, and a "real"
/// function must never point there).
bool in_self(uint64_t addr);

} // namespace valley::shim
