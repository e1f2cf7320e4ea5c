// SPDX-License-Identifier: MIT
/// @file report_gen.cpp
/// @brief Writes a synthetic run directory for bench/report.sh: PROCS processes, SITES call
/// sites each, EVENTS events in all (small writes, header+body sends before reads, byte reads),
/// streamed to the .vev files so that the generator itself stays small.
/// usage: valley_bench_report_gen DIR EVENTS [PROCS] [SITES]
#include "trace_builder.h"

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <string>

using namespace valley;
using namespace valley::testing;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s DIR EVENTS [PROCS] [SITES]\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const uint64_t total = std::strtoull(argv[2], nullptr, 10);
  const uint32_t procs = argc > 3 ? static_cast<uint32_t>(std::atoi(argv[3])) : 4;
  const uint32_t nsites = argc > 4 ? static_cast<uint32_t>(std::atoi(argv[4])) : 64;
  std::filesystem::create_directories(dir);
  for (uint32_t p = 0; p < procs; ++p) {
    const uint64_t n = total / procs + (p < total % procs ? 1 : 0);
    TraceBuilder b(1000 + p);
    b.events_file = false;
    b.site_capacity = nsites;
    b.counter_capacity = nsites * 2;
    b.stack_capacity = nsites;
    b.add_module("/nonexistent/bin/app", 0x555500000000, 0x555500000000, 0x555500100000).is_main = 1;
    b.add_file(3, FdKind::regular, "/tmp/out.csv");
    b.add_file(4, FdKind::tcp, "socket:[1]");
    std::vector<CounterRow*> rows;
    for (uint32_t s = 0; s < nsites; ++s) {
      b.add_site(s, 0x555500001000 + 16 * s, s + 1);
      b.add_stack(s, {0x555500001000ull + 16ull * s, 0x555500002000ull});
    }
    // Site kinds: s % 4 == 0 writes a file, 1 and 2 send header and body on tcp, 3 reads tcp.
    auto op_of = [](uint32_t s) { return s % 4 == 0 ? Op::write : s % 4 == 3 ? Op::recv : Op::send; };
    auto kind_of = [](uint32_t s) { return s % 4 == 0 ? FdKind::regular : FdKind::tcp; };
    for (uint32_t s = 0; s < nsites; ++s) b.add_counter(s + 1, s, op_of(s), kind_of(s));
    for (auto& [row, r] : b.counters) rows.push_back(&r); // after the last add: no reallocation
    std::FILE* ev = std::fopen((dir / (b.name() + ".vev")).c_str(), "wb");
    EventsHeader eh{};
    std::memcpy(eh.magic, kEventsMagic, 8);
    eh.version = kFormatVersion;
    eh.header_size = sizeof eh;
    eh.record_size = sizeof(EventRecord);
    eh.pid = 1000 + p;
    std::fwrite(&eh, sizeof eh, 1, ev);
    uint64_t ticks = 2000;
    for (uint64_t i = 0; i < n; ++i) {
      if (i % 4096 == 0) { // blocks of a shard's drain, as the shim writes them
        EventBlock blk{};
        blk.magic = kBlockMagic;
        blk.first = i;
        blk.count = static_cast<uint32_t>(std::min<uint64_t>(4096, n - i));
        blk.tid = 4242;
        std::fwrite(&blk, sizeof blk, 1, ev);
      }
      const uint32_t group = static_cast<uint32_t>((i / 4) % (nsites / 4));
      const uint32_t s = group * 4 + static_cast<uint32_t>(i % 4);
      const Op op = op_of(s);
      const uint32_t size = s % 4 == 0 ? 12 : s % 4 == 3 ? 64 : 24;
      EventRecord e = make_event(op, s % 4 == 0 ? 3 : 4, kind_of(s), size, s % 4 == 3 ? 2 : size,
                                 ticks += 200, s);
      e.commit = static_cast<uint32_t>(i + 1);
      std::fwrite(&e, sizeof e, 1, ev);
      CounterRow& r = *rows[s];
      ++r.calls;
      r.bytes += static_cast<uint64_t>(e.result);
      r.requested += size;
      r.ticks += 100;
      ++r.size_hist[bucket_of(size)];
      ++r.gap_hist[bucket_of(200)];
    }
    std::fclose(ev);
    b.header.end_ticks = ticks;
    b.header.calib_ticks1 = ticks;
    b.header.calib_ns1 = b.header.calib_ns0 + (ticks - b.header.calib_ticks0) / 2;
    std::string seg = b.segment();
    put(seg, b.shard_offset(0) + offsetof(ShardHeader, drained), n);
    put(seg, b.shard_offset(0) + offsetof(ShardHeader, head), n);
    write_file(dir / (b.name() + ".vseg"), seg);
  }
  return 0;
}
