// SPDX-License-Identifier: MIT
/// @file report_model.h
/// @brief What `valley report` knows about a run: call sites merged across processes, with
/// their counts, the facts one streaming pass over the events adds, and the what-if replay.
/// Memory grows with call sites and fds, never with events.
#pragma once

#include "packages.h"
#include "segment_reader.h"
#include "settings.h"
#include "symbolizer.h"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace valley::advisor {

/// The replay of one buffer size for one site.
struct ReplayResult {
  uint64_t buffer_size = 0;
  double syscalls_after = 0;    ///< predicted syscalls of this site with the buffer (a flush
                                ///< carrying several sites' calls is shared among them)
  double saved_ns = 0;          ///< time inside the syscalls saved
  double max_delay_ns = 0;      ///< the longest a byte waited in the buffer
  uint64_t max_fds = 0;         ///< fds whose buffer the site held at once (each fd from the
                                ///< site's first write or read on it until the fd is closed,
                        ///< reused for another kind, or retired): memory = max_fds * buffer_size
};

struct StackView {
  std::vector<Frame> frames;
  uint64_t hits = 0;
};

/// One call site (where the program called) doing one op on one fd kind, all processes.
struct SiteAgg {
  std::string key;              ///< "module+0xoffset[/caller]:op:kind", stable across processes
  Frame frame;                  ///< the return address (a library frame for split sites)
  std::optional<Frame> caller;  ///< split sites: the first frame outside the library
  std::vector<StackView> stacks;
  std::set<std::string> shim_sites; ///< "module+0xoffset" of every return address merged here
  uint8_t op = 0;
  uint8_t kind = 0;
  bool output = false;
  bool positional = false;

  // From the counters (exact, never lost).
  uint64_t calls = 0, errors = 0, bytes = 0, requested = 0, zero_results = 0;
  double time_ns = 0;
  std::array<uint64_t, kHistBuckets> size_hist{};
  std::set<uint32_t> pids;
  std::map<std::string, uint64_t> paths; ///< fd paths seen, by calls (capped)

  // From the events.
  uint64_t events = 0;
  uint64_t coalesced = 0;        ///< program calls absorbed by the coalescer (no syscall)
  std::map<uint32_t, uint64_t> sizes; ///< exact requested sizes (capped at kMaxSizes entries)
  std::array<uint64_t, 64> gap_hist{}; ///< log2 of ns since the previous call on the fd
  uint64_t gather_calls = 0;     ///< calls in a short write burst ended by a read on the fd
  uint64_t gather_bursts = 0;    ///< such bursts this site started
  uint64_t gather_burst_calls = 0; ///< calls in the bursts this site started
  std::map<std::string, uint64_t> gather_partners; ///< other sites in those bursts
  uint64_t sequential = 0;       ///< positional calls starting where the previous one ended
  uint64_t datagram_runs = 0;    ///< predicted sendmmsg/recvmmsg calls
  std::vector<ReplayResult> replay; ///< per buffer size (writes, reads)

  uint64_t syscalls() const { return calls - coalesced; }
  /// Approximate quantile of the requested size (exact when events were read).
  uint64_t size_quantile(double q) const;
  uint64_t gap_median_ns() const;
  double avg_ns() const { return calls ? time_ns / static_cast<double>(calls) : 0; }
  std::string top_path() const;
};

struct ProcessSummary {
  std::string name;
  uint32_t pid = 0;
  std::string exe;
  std::string program;           ///< as started (argv[0]'s file name), see program_name()
  bool readable = false;
  bool coverage_valid = false;
  uint64_t kernel_reads = 0, kernel_writes = 0, seen_reads = 0, seen_writes = 0;
  uint64_t dropped = 0, torn = 0, invalid = 0, events = 0;
  uint64_t flush_writes = 0;     ///< syscalls valley's coalescer made (kSiteFlush)
  bool killed = false;
  bool counters_full = false;    ///< some calls went to the catch-all row (no call site)
  uint32_t sites_full = 0;       ///< call sites that got no row
};

struct RunModel {
  std::string dir;
  std::vector<SiteAgg> sites; ///< sorted by key
  std::vector<ProcessSummary> processes;
  std::vector<Problem> problems;
  bool coalesced_run = false;
  uint64_t flush_writes = 0;
  /// Modules whose frames print as module+0xOFFSET for want of symbols, by path; `package` is
  /// filled by find_packages() (not by build_run_model: it runs dpkg).
  std::vector<UnnamedModule> unnamed_modules;

  const SiteAgg* find(const std::string& key) const;
};

/// How the report names a site: its frame, or for a call made inside a library, the first
/// frame outside it and the library's function ("main at app.c:12 via unixWrite in
/// libsqlite3.so.0"). File names only, no directories.
std::string site_text(const SiteAgg& a);

inline constexpr size_t kMaxSizes = 4096;

/// Reads every trace of `dir`, symbolizes its sites and aggregates them.
RunModel build_run_model(const std::string& dir, const AdvisorSettings& s);

/// Per-site streaming state of one process: feed it the events in order, then finish().
/// Public for tests: the replay checked against exact counts.
class EventPass {
public:
  /// Events are fed with the index of their SiteAgg in `sites` (-1: none).
  EventPass(std::vector<SiteAgg>& sites, const AdvisorSettings& s, double ns_per_tick);
  void event(const EventRecord& e, int agg);
  /// A run record (kEventRun) taken as `calls` identical calls evenly spread from its first
  /// to its last tick, with the result for_each_call's expansion would give, in work that
  /// does not grow with `calls`. For the runs the reader lets through (absorbed writes to a
  /// stream, see event_reader.cpp); anything else is expanded call by call.
  void run(const EventRecord& e, uint64_t calls, int agg);
  void finish();

  /// Per-fd state is kept for at most this many fds: past it, the half idle longest is
  /// retired as at the end of the trace (bursts end, replayed buffers flush at their last call), so
  /// memory does not grow with distinct fd numbers. Below it the results are exact; a retired
  /// fd seen again starts afresh (its next gap counts as a first call).
  static constexpr size_t kMaxFds = 16384;
  size_t tracked_fds() const { return fds_.size(); }

private:
  struct Buffer { ///< what one replayed buffer holds
    uint64_t bytes = 0;
    uint64_t first_ticks = 0;
    std::vector<std::pair<int, uint64_t>> calls; ///< (site, calls), few entries
    bool empty() const { return calls.empty(); }
  };
  struct FdState {
    uint64_t last_ticks = 0;
    bool seen = false;
    int kind = -1;           ///< fd kind of the latest event: a change means the fd was reused
    std::vector<int> burst;  ///< agg indices of the writes since the last read
    std::vector<int> holders; ///< sites that wrote to or read from the fd (each once)
    uint64_t used = 0;        ///< when the fd was last seen, in events of this pass
    int64_t next_offset = -1;
    int last_pos_agg = -1;
    int dgram_agg = -1;
    uint64_t dgram_run = 0;
    std::vector<Buffer> buffers;           ///< per buffer size: the writes it holds
    std::vector<std::pair<int, uint64_t>> read_avail; ///< per buffer size: (agg, bytes left)
  };
  FdState& state(int32_t fd);
  void hold(FdState& f, int agg);
  void retire(FdState& f);
  void flush(Buffer& buf, size_t size_index, uint64_t now);
  struct Spread; ///< the ticks of a run's calls
  void replay_run(Buffer& buf, size_t size_index, int agg, uint32_t size, const Spread& t);
  void end_burst(FdState& f, bool by_read);

  std::vector<SiteAgg>& sites_;
  const AdvisorSettings& s_;
  double ns_per_tick_;
  std::unordered_map<int32_t, FdState> fds_;
  uint64_t clock_ = 0;
  std::vector<uint64_t> held_, max_held_; ///< per site: fds whose state holds it, now and at most
};

} // namespace valley::advisor
