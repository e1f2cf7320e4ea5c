// SPDX-License-Identifier: MIT
/// @file sync_per_write.cpp
/// @brief sync-per-write: a sync (fsync, fdatasync, sync_file_range, msync) after every small
/// write or statement, as sqlite3 does without a transaction (a journal created, written,
/// synced and deleted per row) → group the writes and sync once per batch: one transaction,
/// group commit, fdatasync per batch. The predicted saving is the measured time of the syncs
/// the grouping removes: the device's waiting goes with the call. Victims: synthetic traces in
/// tests/report (the shim's sync events), sqlite3 in bench/advice.sh.
#include "analyses/syncs.h"
#include "rules/rule.h"
#include "text.h"

#include <fmt/format.h>

#include <cmath>

namespace valley::advisor {

namespace {

constexpr uint64_t kMinSyncs = 20;
constexpr double kMaxWritesPerSync = 8; ///< median writes a sync covers for it to be "per write"
constexpr uint64_t kBatch = 100;        ///< the grouping the prediction assumes

std::optional<Finding> evaluate(const SiteAgg& a, const RunModel& m, const AdvisorSettings& s) {
  if (!Syncs::is_sync(a.op) || a.calls < kMinSyncs) return {};
  const Syncs* syncs = find_analysis<Syncs>(m);
  const SyncFacts* sf = syncs ? syncs->sync_site(a) : nullptr;
  if (!sf || sf->syncs < kMinSyncs) return {};
  const auto writes = static_cast<double>(sf->median_writes());
  const double bytes = sf->bytes_between.quantile(0.5);
  const bool msync = a.op == static_cast<uint8_t>(Op::msync);
  if (!msync &&
      (writes > kMaxWritesPerSync || bytes >= 4.0 * static_cast<double>(s.large_io_bytes)))
    return {};
  Finding f;
  f.site = &a;
  f.before = a.calls;
  f.after = std::ceil(static_cast<double>(a.calls) / kBatch);
  const double saved = static_cast<double>(f.before) - f.after;
  f.saved_wait_ns = saved * a.avg_ns(); // a sync's whole time: the change removes the call
  f.severity = severity_for(saved / static_cast<double>(f.before), saturate_u64(saved),
                            f.saved_wall_ns(), m.wall_ns);
  f.language = language_of(a);
  const std::string op = op_name(static_cast<Op>(a.op));
  f.summary =
      msync
          ? fmt::format("{} {} calls, {} each", a.calls, op, format_ns(a.avg_ns()))
          : fmt::format("{} {}s, each after {:.0f} write(s) of {:.0f} B (medians), {} each",
                        a.calls, op, std::round(writes), std::round(bytes), format_ns(a.avg_ns()));
  const auto journals = syncs->journals();
  if (!journals.empty())
    f.summary += fmt::format("; {} was created and deleted {} times", journals.front().first,
                             journals.front().second);
  f.change = fmt::format("group the writes and sync once per batch: one transaction around many "
                         "statements, group commit, or {} once per batch (here: one per {} "
                         "syncs); what a batch holds is what a crash may lose",
                         msync ? "msync" : "fdatasync()", kBatch);
  const bool sqlite = a.frame.module.find("libsqlite3") != std::string::npos ||
                      a.frame.function.starts_with("unix") || !journals.empty();
  if (sqlite)
    f.idiom = "BEGIN; ... COMMIT; around the inserts (or PRAGMA journal_mode=WAL with "
              "synchronous=NORMAL)";
  else if (f.language == Language::python)
    f.idiom = "os.fdatasync(f.fileno()) once per batch, not after every write";
  else
    f.idiom = "write the batch, then one fdatasync(fd)";
  f.notes.push_back(fmt::format("syncs take {} in all; the prediction groups {} of them into one",
                                format_ns(a.time_ns), kBatch));
  return f;
}

} // namespace

extern const RuleDef rule_sync_per_write{"sync-per-write", 70, {&Syncs::def}, evaluate};

} // namespace valley::advisor
