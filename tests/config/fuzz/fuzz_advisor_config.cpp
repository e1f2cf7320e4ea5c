// SPDX-License-Identifier: MIT
// The advisor's valley.toml reader on any bytes: no crash, no undefined behaviour, the same
// verdict and values as the shim's reader; and a [coalesce] table it accepts, written back
// by format_coalesce (what `valley report --emit-config` writes), reads the same on both sides.
#include "readers.h"

#include <cstdio>
#include <cstdlib>
#include <string>

using namespace valley;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const config_test::Verdict advisor = config_test::advisor_reads(text);
  std::string why = config_test::disagreement(config_test::shim_reads(text), advisor);
  if (why.empty() && advisor.ok) {
    const std::string written = advisor::format_coalesce(advisor.values);
    const config_test::Verdict again = config_test::advisor_reads(written);
    why = config_test::disagreement(config_test::shim_reads(written), again);
    if (why.empty() && !(again.ok && again.values == advisor.values))
      why = "written back:\n" + written + "read back: " + config_test::describe(again);
  }
  if (!why.empty()) {
    std::fprintf(stderr, "the readers disagree\n%s\n", why.c_str());
    std::abort();
  }
  return 0;
}
