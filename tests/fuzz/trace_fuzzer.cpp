// SPDX-License-Identifier: MIT
// Fuzz target: a run directory with one trace (segment + events file, see trace_input.h) goes
// the whole way the `valley` command takes it: dump as text and JSON, report as text, JSON
// and --emit-config. Besides the sanitizers, the outputs are checked: JSON must parse, text
// must not carry a control character other than newline (what a trace could use to forge
// lines or drive the terminal).
#include "dump.h"
#include "json_check.h"
#include "report.h"
#include "trace_input.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using namespace valley::advisor;

const fs::path& run_dir() {
  static const fs::path dir = [] {
    std::string tmpl = (fs::temp_directory_path() / "valley-fuzz-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) std::abort();
    return fs::path(tmpl);
  }();
  return dir;
}

void write(const fs::path& p, std::string_view bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) std::abort();
}

[[noreturn]] void fail(const char* what, const std::string& output) {
  std::fprintf(stderr, "trace_fuzzer: %s\n--- output ---\n%s\n", what, output.c_str());
  std::abort();
}

/// Runs `render` into a memory buffer and returns what it wrote.
template <typename F> std::string capture(F&& render) {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* out = ::open_memstream(&buf, &len);
  if (!out) std::abort();
  render(out);
  std::fclose(out);
  std::string s(buf, len);
  std::free(buf);
  return s;
}

void check_json(const std::string& s) {
  if (!valley::fuzz::json_valid(s)) fail("output is not valid JSON", s);
}

void check_text(const std::string& s) {
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\n') || c == 0x7f) fail("a control character reached text output", s);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  valley::fuzz::TraceInput in = valley::fuzz::split_trace_input(data, size);
  const fs::path& dir = run_dir();
  write(dir / "1-0.vseg", in.segment);
  std::error_code ec;
  if (in.events_file)
    write(dir / "1-0.vev", in.events);
  else
    fs::remove(dir / "1-0.vev", ec);

  for (bool json : {false, true}) {
    DumpOptions o;
    o.dir = dir.string();
    o.json = json;
    std::string out = capture([&](std::FILE* f) { write_dump(o, f); });
    json ? check_json(out) : check_text(out);
  }

  AdvisorSettings s;
  RunModel m = build_report_model(dir.string(), s);
  std::vector<Finding> findings = evaluate_rules(m, s);
  check_text(capture([&](std::FILE* f) { render_text(f, m, findings, s, TextStyle{}); }));
  check_json(capture([&](std::FILE* f) { render_json(f, m, findings, s); }));
  std::string config = coalesce_config(findings, s);
  for (unsigned char c : config)
    if (c < 0x20 && c != '\n') fail("a control character in the emitted config", config);
  return 0;
}
