// SPDX-License-Identifier: MIT
// Writes a synthetic run directory whose one process writes to many distinct fds, round robin:
// the input for measuring the report's memory per fd (docs/testing.md).
// Usage: valley_wide_trace DIR FDS [ROUNDS]  (FDS fds, each written ROUNDS times, default 1)
#include "trace_builder.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

using namespace valley;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s DIR FDS [ROUNDS]\n", argv[0]);
    return 2;
  }
  const uint32_t fds = static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10));
  const uint32_t rounds = argc > 3 ? static_cast<uint32_t>(std::strtoul(argv[3], nullptr, 10)) : 1;
  testing::TraceBuilder b(1);
  b.ring_capacity = 8;
  b.add_module("/nonexistent/bin/server", 0x555500000000, 0x555500000000, 0x555500010000).is_main =
      1;
  b.add_site(0, 0x555500001234);
  CounterRow& c = b.add_counter(1, 0, Op::send, FdKind::tcp);
  c.calls = uint64_t{fds} * rounds;
  c.bytes = c.requested = 64 * c.calls;
  b.drained.reserve(c.calls);
  uint64_t t = 2000;
  for (uint32_t r = 0; r < rounds; ++r)
    for (uint32_t fd = 0; fd < fds; ++fd)
      b.drained.push_back(
          testing::make_event(Op::send, static_cast<int>(fd + 3), FdKind::tcp, 64, 64, t += 50, 0));
  std::filesystem::create_directories(argv[1]);
  b.write(argv[1]);
  return 0;
}
