// SPDX-License-Identifier: MIT
#include "diag.h"

#include "sys.h"

#include <atomic>
#include <cerrno>

namespace valley::shim {
namespace {
constinit std::atomic<int> g_lines{0};
constexpr int kMaxLines = 16; // a broken setup must not flood the program's stderr
} // namespace

void diag(const char* a, const char* b, const char* c) {
  if (g_lines.fetch_add(1, std::memory_order_relaxed) >= kMaxLines) return;
  int saved = errno;
  char buf[512];
  Text t(buf, sizeof buf);
  t.str("valley: ").str(a).str(b).str(c).chr('\n');
  if (t.truncated()) buf[sizeof buf - 2] = '\n';
  sys::write_all(2, buf, t.size());
  errno = saved;
}

} // namespace valley::shim
