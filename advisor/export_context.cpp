// SPDX-License-Identifier: MIT
/// @file export_context.cpp
/// @brief A trace made ready for the exports: clock, sites, files.
#include "export_context.h"
#include "filters.h"
#include "report.h"
#include "report_model.h"
#include "trace_model.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <stdexcept>

namespace valley::advisor {
namespace {

constexpr double kMaxNs = 9007199254740992.0; // 2^53

std::string hex_id(const ModuleRow& m) {
  std::string out;
  for (uint32_t i = 0; i < m.build_id_len; ++i)
    out += fmt::format("{:02x}", m.build_id[i]);
  return out;
}

double mono_of(const SegmentHeader& h, double ns_per_tick, uint64_t ticks) {
  // Signed: a damaged record may predate the calibration.
  const double delta = ticks >= h.calib_ticks0 ? static_cast<double>(ticks - h.calib_ticks0)
                                               : -static_cast<double>(h.calib_ticks0 - ticks);
  return static_cast<double>(h.calib_ns0) + delta * ns_per_tick;
}

} // namespace

std::pair<RunDir, Timeline> open_run(const std::string& dir) {
  RunDir run = read_run_dir(dir);
  if (run.traces.empty() && run.problems.empty())
    throw std::runtime_error(fmt::format("{}: no traces here (no <pid>-<n>.vseg files)", dir));
  Timeline tl;
  bool any = false;
  for (const Trace& t : run.traces) {
    if (!t.header_valid) continue;
    const double start = mono_of(t.header, calibrate(t.header).ns_per_tick, t.header.start_ticks);
    if (!std::isfinite(start)) continue;
    if (!any || start < tl.start_mono_ns) tl.start_mono_ns = start;
    any = true;
  }
  return {std::move(run), tl};
}

TraceContext::TraceContext(const Trace& t, const RunDir& run, const Timeline& tl, Symbolizer& sym)
    : trace(t), info(describe(t, run)),
      program(program_name(info.argv, std::string(fixed_string(t.header.exe)))),
      ns_per_tick(info.clock.ns_per_tick), tl_(tl) {
  std::span<const ModuleRow> all(t.modules);
  for (const SiteEntry& e : t.sites) {
    // The modules loaded when the site was first seen, if its stack says so.
    std::span<const ModuleRow> seen = all;
    if (e.data.first_stack != 0 && e.data.first_stack <= t.stacks.size())
      seen = all.first(std::min<size_t>(t.stacks[e.data.first_stack - 1].modules_seen, all.size()));
    SiteInfo s;
    s.frame = sym.resolve(e.data.return_address, seen);
    if ((e.data.flags & kSiteSplit) && e.data.caller != 0)
      s.caller = sym.resolve(e.data.caller, seen);
    if (const std::vector<Frame> py = python_stack(t, e); !py.empty())
      s.python = py[python_program_frame(py)];
    SiteAgg named; // the report's naming, one function for both
    named.frame = s.frame;
    named.caller = s.caller;
    named.python = s.python;
    s.text = site_text(named);
    if (!s.frame.module.empty()) {
      s.shim_site = module_offset_name(s.frame);
      for (auto m = seen.rbegin(); m != seen.rend(); ++m)
        if (fixed_string(m->path) == s.frame.module) {
          s.build_id = hex_id(*m);
          break;
        }
    }
    sites_.emplace(e.id, std::move(s));
  }
  for (uint32_t id = 1; id <= t.files.size(); ++id)
    files_by_fd_[t.files[id - 1].fd].emplace_back(t.files[id - 1].first_ticks, id);
  for (auto& [fd, rows] : files_by_fd_)
    std::stable_sort(rows.begin(), rows.end());
}

double TraceContext::mono_ns(uint64_t ticks) const {
  return mono_of(trace.header, ns_per_tick, ticks);
}

std::optional<int64_t> TraceContext::at(uint64_t ticks) const {
  const double ns = std::round(mono_ns(ticks) - tl_.start_mono_ns);
  if (!(ns >= -kMaxNs && ns <= kMaxNs)) return std::nullopt;
  return static_cast<int64_t>(ns);
}

std::optional<int64_t> TraceContext::realtime(uint64_t ticks) const {
  const SegmentHeader& h = trace.header;
  const double since = std::round(mono_ns(ticks) - mono_ns(h.start_ticks));
  if (!(since >= -kMaxNs && since <= kMaxNs)) return std::nullopt;
  const auto start = static_cast<int64_t>(std::min<uint64_t>(h.start_realtime_ns, INT64_MAX / 2));
  return start + static_cast<int64_t>(since);
}

int64_t TraceContext::duration_ns(uint64_t ticks) const {
  const double ns = std::round(static_cast<double>(ticks) * ns_per_tick);
  return ns >= 0 && ns <= kMaxNs ? static_cast<int64_t>(ns) : 0;
}

const SiteInfo* TraceContext::site(uint32_t id) const {
  auto it = sites_.find(id);
  return it == sites_.end() ? nullptr : &it->second;
}

uint32_t TraceContext::file_at(int32_t fd, uint64_t ticks) const {
  auto it = files_by_fd_.find(fd);
  if (it == files_by_fd_.end()) return 0;
  const auto& rows = it->second;
  // Later rows win ties: a row re-classified at the same tick replaces the earlier one.
  auto after = std::upper_bound(rows.begin(), rows.end(), std::pair{ticks, UINT32_MAX});
  return after == rows.begin() ? 0 : std::prev(after)->second;
}

const FileRow* TraceContext::file(uint32_t id) const {
  if (id == 0 || id > trace.files.size()) return nullptr;
  return &trace.files[id - 1];
}

bool trace_selected(const ExportOptions& o, const Trace& t, const RunDir& run) {
  if (!pid_selected(o.pids, t.pid)) return false;
  if (o.commands.empty()) return true;
  if (!t.header_valid) return false;
  ProcessFilter f;
  f.commands = o.commands;
  return f.matches(t.pid, describe(t, run).argv, std::string(fixed_string(t.header.exe)));
}

bool pid_selected(const std::vector<uint32_t>& pids, uint32_t pid) {
  return pids.empty() || std::find(pids.begin(), pids.end(), pid) != pids.end();
}

void OutBuffer::write(const char* p, size_t n) {
  if (n != 0 && std::fwrite(p, 1, n, out_) != n)
    throw std::runtime_error("cannot write the output");
}

void put_us(OutBuffer& o, int64_t ns) {
  const uint64_t mag = ns < 0 ? 0 - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  if (ns < 0) o.append("-");
  o.num(mag / 1000);
  const auto frac = static_cast<unsigned>(mag % 1000);
  const char digits[4] = {'.', static_cast<char>('0' + frac / 100),
                          static_cast<char>('0' + frac / 10 % 10),
                          static_cast<char>('0' + frac % 10)};
  o.append({digits, 4});
}

void add_problems(std::vector<std::string>& out, const std::vector<Problem>& problems) {
  for (const Problem& p : problems)
    out.push_back(fmt::format("{}: {}", p.file, p.message));
}

} // namespace valley::advisor
