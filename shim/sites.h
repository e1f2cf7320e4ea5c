// SPDX-License-Identifier: MIT
/// @file sites.h
/// @brief Call sites: keyed by the return address into the wrapped function's caller, split by
/// the first frame outside a library when that caller is a library; each gets a full stack
/// (Boost.Stacktrace) at first sight, stored once in the stack table.
#pragma once

#include "segment.h"
#include "thread.h"

namespace valley::shim {

/// The call-site id for a call whose return address is `ra`. `nested` means valley was already
/// busy on this thread (a signal handler): then nothing that could take a lock is done.
uint32_t site_lookup(Segment& seg, uint64_t ra, bool nested, uint32_t max_frames);

/// The call-site id for a call made from Python code, `key` from py::call_key: its row gets
/// the Python stack and the native stack at first sight. Not for signal context.
uint32_t python_site_lookup(Segment& seg, Thread& t, uint64_t key, uint64_t ra,
                            uint32_t max_frames);

/// The call site of return address `ra` as `valley report` names it: "module+0xOFFSET"
/// (module = file name of the image, OFFSET = ra - load bias). False when no module holds it.
bool site_text(Segment& seg, uint64_t ra, char* out, size_t cap);

/// Captures the current stack for `site` again (sampling); identical stacks add a hit.
void site_sample(Segment& seg, uint32_t site, uint32_t max_frames);

} // namespace valley::shim
