// SPDX-License-Identifier: MIT
/// @file emit_config.cpp
/// @brief `valley report --emit-config`: the [coalesce] table that turns the shim's coalescer
/// on for the sites of the findings it can act on.
#include "report.h"

#include "text.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace valley::advisor {

namespace {

// The [coalesce] kinds take the fd kinds' own names; only these kinds can be buffered.
const char* coalesce_kind(uint8_t k) {
  const auto kind = static_cast<FdKind>(k);
  const bool stream = kind == FdKind::regular || kind == FdKind::pipe || kind == FdKind::fifo ||
                      kind == FdKind::tcp || kind == FdKind::unix_stream;
  return stream ? fd_kind_name(kind) : nullptr;
}

} // namespace

EmittedConfig emit_config(const std::vector<Finding>& findings, const AdvisorSettings& s) {
  EmittedConfig out;
  std::set<std::string> kinds, sites;
  std::set<int32_t> stdio;
  uint64_t size = 0;
  size_t joined = 0; // the shim holds the sites joined by ',' in settings::kListBytes
  std::string notes;
  for (const Finding& f : findings) {
    if (!f.coalescible || !f.promise) continue;
    if (!f.coalescer_why.empty()) {
      const std::string name = comment_text(site_text(*f.site));
      out.left_out.push_back(fmt::format("{} [{}]: {}", site_text(*f.site), f.rule, f.coalescer_why));
      notes += fmt::format("# not listed: {} [{}]: {}\n", name, f.rule, comment_text(f.coalescer_why));
      continue;
    }
    const char* k = f.coalesce_kind.empty() ? coalesce_kind(f.site->kind) : f.coalesce_kind.c_str();
    if (!k) continue;
    // Every site of the pattern: a burst's sends are coalesced only if each of them is.
    std::vector<const SiteAgg*> members{f.site};
    members.insert(members.end(), f.related.begin(), f.related.end());
    std::vector<std::string> listed;
    for (const SiteAgg* a : members) {
      if (a->frame.module.empty()) continue;
      const std::string name = comment_text(site_text(*a));
      if (a->caller) { // the shim keys on the return address: inside a library it means every
                       // caller
        out.left_out.push_back(fmt::format("{}: called from inside {}; the shim keys sites on "
                                           "return addresses, so every caller would be buffered",
                                           name, base_name(a->frame.module)));
        notes += fmt::format("# not listed: {} (called from inside {})\n", name,
                             comment_text(base_name(a->frame.module)));
        continue;
      }
      if (!a->stdio_fds.empty() && !a->stdio_unsafe.empty()) {
        out.left_out.push_back(
            fmt::format("{}: writes to fd {}, and {}", name, *a->stdio_fds.begin(), a->stdio_unsafe));
        notes += fmt::format("# not listed: {} (writes to fd {}): {}\n", name,
                             *a->stdio_fds.begin(), comment_text(a->stdio_unsafe));
        continue;
      }
      for (const std::string& site : a->shim_sites) {
        std::string why = entry_problem(settings::Id::coalesce_sites, site);
        if (why.empty() && !sites.count(site) && joined + site.size() > settings::kListBytes - 1)
          why = "the list of sites is full";
        if (!why.empty()) {
          out.left_out.push_back(fmt::format("{} at {}: {}", site, name, why));
          notes += fmt::format("# not listed: {} at {}: {}\n", comment_text(site), name,
                               comment_text(why));
        }
        else if (sites.insert(site).second)
          joined += site.size() + 1;
        if (why.empty()) listed.push_back(site);
      }
      if (!listed.empty()) stdio.insert(a->stdio_fds.begin(), a->stdio_fds.end());
    }
    if (listed.empty()) continue;
    kinds.insert(k);
    if (f.replay) size = std::max(size, f.replay->buffer_size);
    std::string line = fmt::format("{} [{}]: {} -> {:.0f} syscalls", site_text(*f.site), f.rule,
                                   f.before, f.coalescer_after.value_or(f.after));
    if (f.saved_wait_ns > 0) line += fmt::format(", {} less waiting", format_ns(f.saved_wait_ns));
    notes += "# " + comment_text(line) + "\n";
    out.listed.push_back(std::move(line));
  }
  CoalesceSettings c;
  c.enabled = !sites.empty();
  if (size) c.buffer_size = size;
  c.max_age_ms = s.max_age_ms;
  if (!kinds.empty()) c.kinds.assign(kinds.begin(), kinds.end());
  c.sites.assign(sites.begin(), sites.end());
  if (!stdio.empty()) {
    // Only the listed sites are coalesced, so stdio = true reaches no other write to fds 0-2.
    c.stdio = true;
    std::string fds;
    for (int32_t fd : stdio) fds += fmt::format("{}{}", fds.empty() ? "" : ", ", fd);
    notes += fmt::format("# stdio = true: listed sites write to fd {}; valley saw every write the "
                         "kernel counted for their processes, so nothing else writes there\n",
                         fds);
  }
  out.sites = c.sites.size();
  out.kinds = c.kinds;
  out.stdio = c.stdio;
  out.text = "# Written by `valley report --emit-config`: coalescing only where the replay of the\n"
             "# recorded run says it is safe (stream fds, flush before reads) and saves calls.\n" +
             notes + format_coalesce(c);
  return out;
}

} // namespace valley::advisor
