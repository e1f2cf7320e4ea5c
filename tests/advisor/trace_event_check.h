// SPDX-License-Identifier: MIT
/// @file trace_event_check.h
/// @brief Checks a Chrome Trace Event Format document (the JSON that ui.perfetto.dev and
/// chrome://tracing import) against the rules `valley export --format perfetto` must keep.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace valley::testing {

/// Every way `doc` breaks the format, one message each; empty when it is sound:
/// - an object with a "traceEvents" array of objects, each with a string "ph" among X, i, C, M;
/// - X: string name, integer pid and tid, number ts and dur >= 0; i: pid, tid, ts and scope "t";
///   C: name, pid, ts and args whose values are all numbers; M: process_name with pid, or
///   thread_name with pid and tid, and a string args.name;
/// - every pid used by X, i and C has a process_name, every (pid, tid) of X and i a
///   thread_name;
/// - on each thread, X slices (and instants, as zero-length slices) nest: sorted by start,
///   either in file order (as Perfetto's sorter keeps equal times) or longest first (as
///   chrome://tracing does), no slice ends after the slice it starts in. Times are compared in
///   integer ns, µs * 1000 rounded, as Perfetto's importer converts them.
std::vector<std::string> check_trace_events(const nlohmann::json& doc);

/// ns from a µs value of the document, as Perfetto's importer converts it.
int64_t trace_ns(const nlohmann::json& us);

} // namespace valley::testing
