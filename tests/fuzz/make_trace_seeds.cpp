// SPDX-License-Identifier: MIT
// Writes the seed corpus of the trace fuzz target: small traces built with trace_builder that
// between them reach every part of the reader, dump and report (each rule's pattern, run
// records, coalescer flushes, split sites, a killed process's ring, late events, datagrams,
// positional reads). Usage: valley_fuzz_trace_seeds DIR (tests/fuzz/trace/corpus).
#include "trace_builder.h"
#include "trace_input.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>

using namespace valley;
using valley::testing::make_event;
using valley::testing::TraceBuilder;

namespace {

/// Section capacities cut to what the trace uses: a seed of a few KB mutates faster.
void tighten(TraceBuilder& b) {
  uint32_t rows = 1, sites = 1;
  for (const auto& [row, c] : b.counters)
    rows = std::max(rows, row + 1);
  for (const auto& [id, s] : b.sites)
    sites = std::max(sites, id + 1);
  b.counter_capacity = rows;
  b.site_capacity = sites;
  b.stack_capacity = std::max<uint32_t>(1, static_cast<uint32_t>(b.stacks.size()));
  b.module_capacity = std::max<uint32_t>(1, static_cast<uint32_t>(b.modules.size()));
  b.file_capacity = std::max<uint32_t>(1, static_cast<uint32_t>(b.files.size()));
  uint32_t ring = 8;
  while (ring < b.drained.size() + b.undrained.size() && ring < 64)
    ring *= 2;
  b.ring_capacity = ring;
}

TraceBuilder base() {
  TraceBuilder b(1);
  b.add_module("/nonexistent/bin/victim", 0x555500000000, 0x555500000000, 0x555500010000).is_main =
      1;
  b.add_module("/nonexistent/lib/libc.so.6", 0x7f0000000000, 0x7f0000000000, 0x7f0000200000);
  b.add_stack(0, {0x555500001234, 0x555500001500});
  b.add_site(0, 0x555500001234, 1);
  return b;
}

/// `n` calls of `op` at site 0 on fd 3 of `kind`, with a counter row that agrees.
void calls(TraceBuilder& b, Op op, FdKind kind, uint32_t n, uint32_t size, int32_t result,
           uint32_t site = 0, uint32_t row = 1, int64_t offset = -1, uint64_t t0 = 2000) {
  CounterRow& c = b.add_counter(row, site, op, kind);
  c.calls = n;
  c.requested = uint64_t{n} * size;
  c.bytes = result > 0 ? uint64_t{n} * static_cast<uint32_t>(result) : 0;
  c.ticks = 300ull * n;
  c.size_hist[bucket_of(size)] = n;
  c.gap_hist[0] = 1;
  c.gap_hist[bucket_of(100)] = n - 1;
  c.last_file = 1;
  for (uint32_t i = 0; i < n; ++i) {
    EventRecord e = make_event(op, 3, kind, size, result, t0 + 100 * i, site);
    if (offset >= 0) e.offset = offset + int64_t{i} * size;
    b.drained.push_back(e);
  }
}

std::map<std::string, std::function<TraceBuilder()>> seeds() {
  std::map<std::string, std::function<TraceBuilder()>> s;
  s["sample"] = [] { return valley::testing::sample_trace(1); };
  s["small-writes"] = [] {
    TraceBuilder b = base();
    b.add_file(3, FdKind::regular, "/tmp/out.csv");
    calls(b, Op::write, FdKind::regular, 40, 8, 8);
    return b;
  };
  s["small-reads-eof"] = [] {
    TraceBuilder b = base();
    b.add_file(3, FdKind::regular, "/etc/config");
    calls(b, Op::read, FdKind::regular, 30, 1, 1);
    b.drained.push_back(make_event(Op::read, 3, FdKind::regular, 1, 0, 9000, 0));
    return b;
  };
  s["write-gather"] = [] {
    TraceBuilder b = base();
    b.add_site(1, 0x555500001300);
    b.add_site(2, 0x555500001400);
    b.add_file(3, FdKind::tcp, "socket:[99]");
    for (uint32_t row : {1u, 2u, 3u}) {
      CounterRow& c = b.add_counter(row, row - 1, row == 3 ? Op::recv : Op::send, FdKind::tcp);
      c.calls = 10;
      c.last_file = 1;
    }
    for (int i = 0; i < 10; ++i) {
      uint64_t t = 2000 + 1000 * i;
      b.drained.push_back(make_event(Op::send, 3, FdKind::tcp, 20, 20, t, 0));
      b.drained.push_back(make_event(Op::send, 3, FdKind::tcp, 300, 300, t + 10, 1));
      b.drained.push_back(make_event(Op::recv, 3, FdKind::tcp, 4096, 64, t + 20, 2));
    }
    return b;
  };
  s["sequential-pread"] = [] {
    TraceBuilder b = base();
    b.add_file(3, FdKind::regular, "/var/db");
    calls(b, Op::pread64, FdKind::regular, 30, 128, 128, 0, 1, 0);
    return b;
  };
  s["udp-sendto"] = [] {
    TraceBuilder b = base();
    b.add_file(3, FdKind::udp, "socket:[7]");
    calls(b, Op::sendto, FdKind::udp, 30, 64, 64);
    return b;
  };
  s["coalesced-runs"] = [] {
    TraceBuilder b = base();
    b.add_file(3, FdKind::pipe, "pipe:[5]");
    CounterRow& c = b.add_counter(1, 0, Op::write, FdKind::pipe);
    c.calls = 1000;
    c.last_file = 1;
    b.add_counter(2, kSiteFlush, Op::write, FdKind::pipe).calls = 2;
    for (int r = 0; r < 2; ++r) {
      EventRecord e = make_event(Op::write, 3, FdKind::pipe, 1, 1, 2000 + 100000 * r, 0);
      e.flags = kEventCoalesced | kEventRun;
      e.duration = 500;
      e.offset = static_cast<int64_t>(e.ticks + 20000);
      b.drained.push_back(e);
      EventRecord f = make_event(Op::write, 3, FdKind::pipe, 500, 500, e.ticks + 30000, kSiteFlush);
      f.flags = kEventFlush;
      b.drained.push_back(f);
    }
    return b;
  };
  s["killed-ring-tail"] = [] {
    TraceBuilder b = base();
    b.header.state = 0;
    b.events_file = false;
    b.add_file(3, FdKind::regular, "/tmp/log");
    calls(b, Op::write, FdKind::regular, 6, 16, 16);
    b.undrained = b.drained;
    b.drained.clear();
    b.torn.insert(2);
    return b;
  };
  s["late-and-nested"] = [] {
    TraceBuilder b = base();
    b.add_file(3, FdKind::regular, "/tmp/log");
    calls(b, Op::writev, FdKind::regular, 6, 16, 16);
    b.drained[1].flags = kEventNested;
    b.late.push_back(make_event(Op::writev, 3, FdKind::regular, 16, -9, 9000, 0));
    return b;
  };
  s["split-sites-coverage"] = [] {
    TraceBuilder b = base();
    b.add_stack(5, {0x7f0000001000, 0x555500001600, 0x555500001700});
    SiteRow& split = b.add_site(5, 0x7f0000001000, 2);
    split.flags |= kSiteSplit;
    split.caller = 0x555500001600;
    SiteRow& marker = b.add_site(6, 0x7f0000002000);
    marker.flags |= kSiteMarker | kSiteNoStack;
    marker.caller = 1;
    b.add_file(3, FdKind::tty, "/dev/pts/1");
    calls(b, Op::write, FdKind::tty, 6, 4, 4, 5, 1);
    b.add_counter(2, kSiteUnknown, Op::write, FdKind::tty).calls = 1;
    b.header.coverage = {1, 40, 30, 1000, 800, 0, 6, 0, 24};
    b.header.state |= kStateCountersFull;
    b.header.sites_full = 1;
    return b;
  };
  s["fd-reuse"] = [] {
    TraceBuilder b = base();
    b.add_file(3, FdKind::regular, "/tmp/a");
    FileRow& again = b.add_file(3, FdKind::pipe, "pipe:[9]");
    again.first_ticks = 5000;
    calls(b, Op::write, FdKind::regular, 5, 8, 8);
    CounterRow& c = b.add_counter(2, 0, Op::write, FdKind::pipe);
    c.calls = 5;
    for (int i = 0; i < 5; ++i)
      b.drained.push_back(make_event(Op::write, 3, FdKind::pipe, 8, -32, 6000 + 100 * i, 0));
    return b;
  };
  return s;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  for (auto& [name, make] : seeds()) {
    TraceBuilder b = make();
    tighten(b);
    std::string events = b.events();
    valley::testing::write_file(
        std::filesystem::path(argv[1]) / name,
        valley::fuzz::join_trace_input(b.segment(), b.events_file ? &events : nullptr));
  }
  return 0;
}
