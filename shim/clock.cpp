// SPDX-License-Identifier: MIT
#include "clock.h"

#include "hot.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace valley::shim::clock {

VALLEY_HOT_DATA bool g_tsc = false;

void init() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  // CPUID 0x80000007 EDX bit 8: the TSC runs at a constant rate in every P/C-state, so ticks
  // from different cores and times can be compared and scaled by one factor.
  if (__get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8))) g_tsc = true;
#endif
}

} // namespace valley::shim::clock
