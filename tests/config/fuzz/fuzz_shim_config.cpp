// SPDX-License-Identifier: MIT
// The shim's valley.toml reader on any bytes: no crash, no undefined behaviour, an error
// located inside the text in one line, the same verdict and values as the advisor's reader.
// The same bytes as VALLEY_* variables (one per line) go through read_options too.
#include "options.h"
#include "readers.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace valley;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const config_test::Verdict shim = config_test::shim_reads(text);
  if (!shim.ok) {
    size_t lines = 1;
    for (char c : text)
      lines += c == '\n';
    if (shim.line < 1 || shim.line > lines || shim.col < 1 || shim.message.empty() ||
        shim.message.find('\n') != std::string::npos) {
      std::fprintf(stderr, "bad error: %s\n", config_test::describe(shim).c_str());
      std::abort();
    }
  }
  const std::string why = config_test::disagreement(shim, config_test::advisor_reads(text));
  if (!why.empty()) {
    std::fprintf(stderr, "the readers disagree\n%s\n", why.c_str());
    std::abort();
  }
  // As an environment: VALLEY_CONFIG would read files, so it is left out.
  std::vector<std::string> vars;
  for (size_t start = 0; start <= text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string v(text.substr(start, end - start));
    if (v.find('\0') == std::string::npos && v.rfind("VALLEY_CONFIG", 0) != 0)
      vars.push_back(std::move(v));
    start = end + 1;
  }
  std::vector<char*> env;
  for (std::string& v : vars)
    env.push_back(v.data());
  env.push_back(nullptr);
  static shim::Options options;
  shim::read_options(env.data(), &options);
  return 0;
}
