// SPDX-License-Identifier: MIT
/// @file report_model.h
/// @brief What `valley report` knows about a run: call sites merged across processes, with
/// their counts, what one streaming pass over the events adds (event_pass.h), the CPU cost of
/// a call apart from its waiting (costs.cpp), and the analyses the rules asked for
/// (analysis.h). Memory grows with call sites and fds, never with events.
#pragma once

#include "packages.h"
#include "segment_reader.h"
#include "settings.h"
#include "symbolizer.h"
#include "valley/flush_rules.h"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <memory>
#include <string>
#include <vector>

namespace valley::advisor {

struct StackView {
  std::vector<Frame> frames;
  uint64_t hits = 0;
};

/// Durations in a log scale with four buckets per power of two (each within 19% of the next),
/// from 1 ns to 2^48 ns: quantiles within about 9%, in memory that does not grow with calls.
class DurationHist {
public:
  static constexpr uint32_t kSub = 4, kOctaves = 48, kBuckets = kSub * kOctaves;
  void add(double ns, uint64_t n = 1);
  void add(const DurationHist& o);
  uint64_t count() const { return count_; }
  /// The q-quantile (0 <= q <= 1), the geometric middle of its bucket; 0 when empty.
  double quantile(double q) const;

private:
  std::array<uint64_t, kBuckets> n_{};
  uint64_t count_ = 0;
};

/// What the language or runtime of a program gives away in its modules (bits, several may be set).
enum RuntimeBits : uint32_t {
  kRuntimePython = 1u << 0,
  kRuntimePerl = 1u << 1,
  kRuntimeJava = 1u << 2,
  kRuntimeNode = 1u << 3,
  kRuntimeRuby = 1u << 4,
  kRuntimeCxx = 1u << 5, ///< links libstdc++
};

/// One call site (where the program called) doing one op on one fd kind, all processes.
struct SiteAgg {
  size_t id = 0;                ///< creation order: what analyses index their results by
  std::string key;              ///< "module+0xoffset[/caller]:op:kind", stable across processes
  Frame frame;                  ///< the return address (a library frame for split sites)
  std::optional<Frame> caller;  ///< split sites: the first frame outside the library
  std::optional<Frame> python;  ///< Python sites: the Python code that made the call
  std::vector<StackView> stacks;
  std::set<std::string> shim_sites; ///< "module+0xoffset" of every return address merged here
  uint8_t op = 0;
  uint8_t kind = 0;
  bool output = false;
  bool positional = false;
  bool mmsg = false;            ///< sendmmsg/recvmmsg
  uint32_t runtimes = 0;        ///< RuntimeBits of the processes that made these calls

  // From the counters (exact, never lost).
  uint64_t calls = 0, errors = 0, bytes = 0, requested = 0, zero_results = 0;
  double time_ns = 0;
  std::array<uint64_t, kHistBuckets> size_hist{};
  /// The processes that made these calls: run index (RunModel::dirs) << 32 | pid, since two
  /// hosts' runs can have the same pids.
  std::set<uint64_t> pids;
  std::map<std::string, uint64_t> paths; ///< fd paths seen, by calls (capped)
  /// Why reading ahead on the fd this site reads would take bytes that are not its to take: it
  /// is a pipe, FIFO, socket or tty inherited from the parent or also open in another process
  /// of the run. Empty when not.
  std::string shared_input;
  /// The fds 0-2 this site's calls went to (the shim's coalescer leaves them alone unless
  /// `stdio = true`).
  std::set<int32_t> stdio_fds;
  /// Why `--emit-config` must not turn `stdio` on for this site, or "": a process of the site
  /// made writes valley did not intercept (stdio's own flushes, raw syscalls), which buffered
  /// bytes could overtake, or its coverage is unknown.
  std::string stdio_unsafe;

  // From the events.
  uint64_t events = 0;
  uint64_t coalesced = 0;        ///< program calls absorbed by the coalescer (no syscall)
  /// The coalescer's flushes of buffers whose latest write came from this site, by
  /// FlushReason (include/valley/flush_rules.h), from the flush events.
  std::array<uint64_t, static_cast<size_t>(FlushReason::count)> flush_reasons{};
  /// Calls the coalescer (on) let go around its buffer, by why (Straight), from the events.
  std::array<uint64_t, static_cast<size_t>(Straight::count)> straight{};
  std::map<uint32_t, uint64_t> sizes; ///< exact requested sizes (capped at kMaxSizes entries)
  std::array<uint64_t, 64> gap_hist{}; ///< log2 of ns since the previous call on the fd
  DurationHist durations;        ///< of the calls that made a syscall

  // The cost model (see costs.cpp), set once every process is read.
  double cost_ns = 0;            ///< CPU cost of one call: the kernel's work, not waiting
  bool cost_from_events = false; ///< false: no events, cost_ns is the counters' average
  double wait_ns = 0;            ///< time_ns minus the CPU cost of every syscall

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
  size_t run = 0;                ///< index in RunModel::dirs of the run directory it is from
  bool readable = false;
  bool coverage_valid = false;
  uint64_t kernel_reads = 0, kernel_writes = 0, seen_reads = 0, seen_writes = 0;
  uint64_t dropped = 0, torn = 0, invalid = 0, events = 0;
  uint64_t flush_writes = 0;     ///< syscalls valley's coalescer made (kSiteFlush)
  bool killed = false;
  double duration_ns = 0;
  uint32_t runtimes = 0;         ///< RuntimeBits
  bool uring = false;            ///< liburing is loaded: io_uring I/O bypasses libc
  /// Intercepted calls that the kernel's read/write counts leave out (send*/recv*) or count
  /// as both a read and a write (copy_file_range, sendfile), and the other ops that move no
  /// program data through a buffer (syncs, open, close, unlink, splice, tee).
  uint64_t socket_calls = 0, copy_calls = 0;
  bool counters_full = false;    ///< some calls went to the catch-all row (no call site)
  uint32_t sites_full = 0;       ///< call sites that got no row
};

class Analysis;

struct RunModel {
  RunModel();
  ~RunModel();
  RunModel(RunModel&&) noexcept;
  RunModel& operator=(RunModel&&) noexcept;

  std::string dir; ///< the first run directory (the only one, usually)
  /// Every run directory read, as given; with several, sites are merged across them by module
  /// build-id (see `merged_by_path`) and the keys name the module's build-id.
  std::vector<std::string> dirs;
  /// With several runs: modules without a build-id whose sites were merged by path and offset
  /// instead (two different files at one path would be mixed up).
  std::vector<std::string> merged_by_path;
  /// Processes a ProcessFilter (--pid, --command) left out: their calls are not counted.
  size_t processes_left_out = 0;
  /// What the output was narrowed to, one phrase per option ("--pid 12", "--site main"), for
  /// the report to say; empty when nothing was filtered.
  std::vector<std::string> filters;
  /// Sites `--site` leaves out of the output, by SiteAgg::id: the rules still see them (a
  /// finding's related sites), the output does not list them.
  std::set<size_t> hidden_sites;
  std::vector<SiteAgg> sites; ///< sorted by key; SiteAgg::id is the order they were found in
  std::vector<ProcessSummary> processes;
  std::vector<Problem> problems;
  bool coalesced_run = false;
  uint64_t flush_writes = 0;
  double wall_ns = 0;         ///< the longest process image's duration
  /// Modules whose frames print as module+0xOFFSET for want of symbols, by path; `package` is
  /// filled by find_packages() (not by build_run_model: it runs dpkg).
  std::vector<UnnamedModule> unnamed_modules;
  /// The analyses the event pass ran, with their results (analysis.h: find_analysis).
  std::vector<std::unique_ptr<Analysis>> analyses;

  const SiteAgg* find(const std::string& key) const;
  /// The site whose SiteAgg::id is `id`, or null.
  const SiteAgg* by_id(size_t id) const;
  /// Makes by_id() follow `sites` (after they were sorted or added to).
  void index_sites();
  std::vector<size_t> index_of_id;
};

/// How the report names a site: its frame, or for a call made inside a library, the first
/// frame outside it and the library's function ("main at app.c:12 via unixWrite in
/// libsqlite3.so.0"). File names only, no directories.
std::string site_text(const SiteAgg& a);

inline constexpr size_t kMaxSizes = 4096;

/// Stream fds (file, pipe, FIFO, TCP, unix stream, tty) and datagram ones.
bool stream_kind(uint8_t kind);
bool datagram_kind(uint8_t kind);
/// Pipes, FIFOs, sockets and ttys: a read there can wait for a peer, and reading ahead takes
/// bytes no one can put back.
bool peer_kind(uint8_t kind);

/// Sets each site's CPU cost per call and its waiting time (costs.cpp).
void compute_costs(RunModel& m);

struct AnalysisDef;

/// Reads every trace of `dir`, symbolizes its sites, aggregates them, and runs the analyses
/// over each process's events (each once, whoever asked for it).
RunModel build_run_model(const std::string& dir, const AdvisorSettings& s,
                         const std::vector<const AnalysisDef*>& analyses);

struct ProcessFilter;
/// The same over several run directories (the same program on several hosts or days), with
/// only the processes `filter` lets through. Sites merge across runs only when their modules
/// have the same build-id (or, without one, the same path).
RunModel build_run_model(const std::vector<std::string>& dirs, const AdvisorSettings& s,
                         const std::vector<const AnalysisDef*>& analyses,
                         const ProcessFilter& filter);

} // namespace valley::advisor
