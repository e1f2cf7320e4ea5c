// SPDX-License-Identifier: MIT
/// @file rule_common.cpp
/// @brief Helpers the rules share: buffer choice, severity, language.
#include "rules/rule.h"
#include "text.h"

#include <fmt/format.h>

namespace valley::advisor {

const char* language_name(Language l) {
  switch (l) {
  case Language::c: return "C";
  case Language::c_stdio: return "C stdio";
  case Language::cpp: return "C++";
  case Language::cpp_streams: return "C++ streams";
  case Language::python: return "Python";
  case Language::perl: return "Perl";
  case Language::java: return "Java";
  case Language::node: return "Node.js";
  case Language::ruby: return "Ruby";
  case Language::rust: return "Rust";
  case Language::go: return "Go";
  }
  return "C";
}

std::optional<ReplayResult> pick_buffer(const SiteAgg& a, const std::vector<ReplayResult>& rows) {
  double best = 0;
  for (const ReplayResult& r : rows)
    best = std::max(best, static_cast<double>(a.calls) - r.syscalls_after);
  if (best <= 0) return std::nullopt;
  for (const ReplayResult& r : rows)
    if (static_cast<double>(a.calls) - r.syscalls_after >= 0.9 * best) return r;
  return std::nullopt;
}

std::optional<Finding> buffered_finding(const SiteAgg& a, const RunModel& m,
                                        const AdvisorSettings& s) {
  const Replay* replay = find_analysis<Replay>(m);
  if (!replay) return std::nullopt;
  const std::vector<ReplayResult>& rows = replay->of(a);
  std::optional<ReplayResult> r = pick_buffer(a, rows);
  if (!r) return std::nullopt;
  const double saved = static_cast<double>(a.calls) - r->syscalls_after;
  if (saved < s.min_saving * static_cast<double>(a.calls)) return std::nullopt;
  Finding f;
  f.site = &a;
  f.before = a.calls;
  f.after = r->syscalls_after;
  f.saved_ns = r->saved_ns;
  f.replay = r;
  f.replay_rows = rows;
  f.severity = severity_for(saved / static_cast<double>(a.calls), saturate_u64(saved));
  f.language = language_of(a);
  return f;
}

std::string severity_for(double saved_fraction, uint64_t saved_calls, double saved_wall_ns,
                         double run_wall_ns) {
  const double share = run_wall_ns > 0 ? saved_wall_ns / run_wall_ns : 0;
  if ((saved_fraction >= 0.75 && saved_calls >= 10000) || share >= 0.2) return "high";
  if ((saved_fraction >= 0.5 && saved_calls >= 1000) || share >= 0.05) return "medium";
  return "low";
}

// The frames say what compiled languages and C++ streams are; a process's modules say which
// interpreter or runtime runs it (its frames are often the interpreter's own C).
Language language_of(const SiteAgg& a) {
  auto has = [](const std::string& s, const char* p) { return s.find(p) != std::string::npos; };
  std::vector<const Frame*> frames{&a.frame};
  if (a.caller) frames.push_back(&*a.caller);
  for (const StackView& s : a.stacks)
    for (const Frame& f : s.frames) frames.push_back(&f);
  for (const Frame* f : frames) {
    if (f->function.starts_with("runtime.") || f->function.starts_with("syscall.") ||
        f->function.starts_with("internal/poll.") || f->function.starts_with("os."))
      return Language::go;
    if (has(f->function, "std::io::") || has(f->function, "std::fs::") || has(f->function, "core::fmt"))
      return Language::rust;
  }
  for (const Frame* f : frames)
    if (has(f->module, "libpython")) return Language::python;
  if (a.runtimes & kRuntimePython) return Language::python;
  if (a.runtimes & kRuntimePerl) return Language::perl;
  if (a.runtimes & kRuntimeJava) return Language::java;
  if (a.runtimes & kRuntimeNode) return Language::node;
  if (a.runtimes & kRuntimeRuby) return Language::ruby;
  for (const Frame* f : frames)
    if (has(f->module, "libstdc++") || has(f->function, "std::basic_ostream") ||
        has(f->function, "std::basic_filebuf") || has(f->function, "std::basic_istream"))
      return Language::cpp_streams;
  if (has(a.frame.module, "libc.so") &&
      (a.frame.function.starts_with("_IO_") || has(a.frame.function, "fwrite") ||
       has(a.frame.function, "fflush") || has(a.frame.function, "putc") ||
       has(a.frame.function, "fputs") || has(a.frame.function, "printf") ||
       has(a.frame.function, "getc") || has(a.frame.function, "fread") ||
       has(a.frame.function, "fgets") || has(a.frame.function, "getline")))
    return Language::c_stdio;
  if (a.runtimes & kRuntimeCxx) return Language::cpp;
  return Language::c;
}

std::string size_text(uint64_t b) {
  if (b >= (1u << 20) && b % (1u << 20) == 0) return fmt::format("{} MiB", b >> 20);
  if (b >= 1024 && b % 1024 == 0) return fmt::format("{} KiB", b >> 10);
  return fmt::format("{} B", b);
}

} // namespace valley::advisor
