// SPDX-License-Identifier: MIT
#include "trace_event_check.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <utility>

namespace valley::testing {
namespace {

using nlohmann::json;

struct Slice {
  int64_t s, e;
  size_t index; ///< position in traceEvents
};

bool is_int(const json& j) { return j.is_number_integer() || j.is_number_unsigned(); }

/// Checks that slices sorted by `before` nest; appends a message per violation (first few).
template <typename Less>
void check_nesting(std::vector<Slice> slices, Less before, const std::string& track,
                   const char* order, std::vector<std::string>& out) {
  std::stable_sort(slices.begin(), slices.end(), before);
  std::vector<Slice> open;
  int shown = 0;
  for (const Slice& x : slices) {
    // As Perfetto's slice tracker: a slice that has ended by this one's start is closed.
    while (!open.empty() && open.back().e <= x.s)
      open.pop_back();
    if (!open.empty() && x.e > open.back().e && shown++ < 3)
      out.push_back("track " + track + " (" + order + "): event " + std::to_string(x.index) + " [" +
                    std::to_string(x.s) + "," + std::to_string(x.e) + "] starts inside event " +
                    std::to_string(open.back().index) + " [" + std::to_string(open.back().s) + "," +
                    std::to_string(open.back().e) + "] and ends after it");
    open.push_back(x);
  }
}

} // namespace

int64_t trace_ns(const json& us) {
  return static_cast<int64_t>(std::llround(us.get<double>() * 1000.0));
}

std::vector<std::string> check_trace_events(const json& doc) {
  std::vector<std::string> out;
  if (!doc.is_object() || !doc.contains("traceEvents") || !doc["traceEvents"].is_array())
    return {"not an object with a traceEvents array"};
  std::set<uint64_t> named_pids, used_pids;
  std::set<std::pair<uint64_t, uint64_t>> named_threads, used_threads;
  std::map<std::pair<uint64_t, uint64_t>, std::vector<Slice>> tracks;
  const json& events = doc["traceEvents"];
  for (size_t i = 0; i < events.size(); ++i) {
    const json& e = events[i];
    const std::string at = "event " + std::to_string(i) + " " + e.dump().substr(0, 200);
    auto need = [&](const char* key, bool ok) {
      if (!ok) out.push_back(at + ": bad or missing \"" + key + "\"");
      return ok;
    };
    if (!e.is_object() || !e.contains("ph") || !e["ph"].is_string()) {
      out.push_back(at + ": not an object with a string ph");
      continue;
    }
    const std::string ph = e["ph"];
    const bool pid_ok = need("pid", e.contains("pid") && is_int(e["pid"]));
    const bool name_ok = need("name", e.contains("name") && e["name"].is_string());
    if (ph == "M") {
      if (!pid_ok || !name_ok) continue;
      const bool args_ok =
          need("args.name", e.contains("args") && e["args"].is_object() &&
                                e["args"].contains("name") && e["args"]["name"].is_string());
      if (!args_ok) continue;
      if (e["name"] == "process_name") {
        named_pids.insert(e["pid"].get<uint64_t>());
      } else if (e["name"] == "thread_name") {
        if (need("tid", e.contains("tid") && is_int(e["tid"])))
          named_threads.insert({e["pid"].get<uint64_t>(), e["tid"].get<uint64_t>()});
      } else {
        out.push_back(at + ": metadata other than process_name and thread_name");
      }
      continue;
    }
    const bool ts_ok = need("ts", e.contains("ts") && e["ts"].is_number() && e["ts"] >= 0);
    if (!pid_ok || !ts_ok || !name_ok) continue;
    const uint64_t pid = e["pid"];
    used_pids.insert(pid);
    if (ph == "C") {
      if (!need("args", e.contains("args") && e["args"].is_object() && !e["args"].empty()))
        continue;
      for (const auto& [k, v] : e["args"].items())
        if (!v.is_number()) out.push_back(at + ": counter value " + k + " is not a number");
      continue;
    }
    if (ph != "X" && ph != "i") {
      out.push_back(at + ": unexpected ph " + ph);
      continue;
    }
    if (!need("tid", e.contains("tid") && is_int(e["tid"]))) continue;
    const uint64_t tid = e["tid"];
    used_threads.insert({pid, tid});
    const int64_t s = trace_ns(e["ts"]);
    if (ph == "X") {
      if (!need("dur", e.contains("dur") && e["dur"].is_number() && e["dur"] >= 0)) continue;
      tracks[{pid, tid}].push_back({s, s + trace_ns(e["dur"]), i});
    } else {
      // Perfetto imports a thread-scoped instant as a zero-length slice of the thread.
      if (!need("s", e.contains("s") && e["s"] == "t")) continue;
      tracks[{pid, tid}].push_back({s, s, i});
    }
  }
  for (uint64_t pid : used_pids)
    if (!named_pids.count(pid))
      out.push_back("pid " + std::to_string(pid) + " has no process_name");
  for (const auto& [pid, tid] : used_threads)
    if (!named_threads.count({pid, tid}))
      out.push_back("pid " + std::to_string(pid) + " tid " + std::to_string(tid) +
                    " has no thread_name");
  for (const auto& [key, slices] : tracks) {
    const std::string track = std::to_string(key.first) + "/" + std::to_string(key.second);
    check_nesting(
        slices, [](const Slice& a, const Slice& b) { return a.s < b.s; }, track, "file order", out);
    check_nesting(
        slices,
        [](const Slice& a, const Slice& b) { return a.s < b.s || (a.s == b.s && a.e > b.e); },
        track, "longest first", out);
  }
  return out;
}

} // namespace valley::testing
