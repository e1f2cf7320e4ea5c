// SPDX-License-Identifier: MIT
#include "modes.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#ifndef VALLEY_COALESCE_VICTIMS
#error "VALLEY_COALESCE_VICTIMS must name the directory of the built victims"
#endif

namespace valley::coalesce_test {

const char* mode_name(Mode m) {
  switch (m) {
  case Mode::bare: return "bare";
  case Mode::coalesce: return "coalesce";
  case Mode::naive: return "naive";
  }
  return "?";
}

std::string victim(const std::string& name) {
  return std::string(VALLEY_COALESCE_VICTIMS) + "/valley_coalesce_" + name;
}

bool Result::exited0(size_t stage) const {
  int st = status(stage);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

bool Result::timed_out() const {
  if (run.deadline) return true;
  for (const auto& s : run.stages)
    if (WIFEXITED(s.status) && (WEXITSTATUS(s.status) == 124 || WEXITSTATUS(s.status) == 137))
      return true;
  return false;
}

std::string Result::file(const std::string& rel) const {
  std::ifstream in(work / rel, std::ios::binary);
  if (!in) return "<missing>";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Result::what() const {
  std::string s = std::string("[") + mode_name(mode) + "]";
  for (const auto& st : run.stages) s += " " + e2e::describe_status(st.status);
  if (run.deadline) s += " (killed by the harness)";
  s += "\n  stdout: " + run.out.substr(0, 300);
  for (const auto& st : run.stages) s += "\n  stderr: " + st.err.substr(0, 300);
  return s;
}

Runs::Runs() {
  std::string tmpl = (fs::temp_directory_path() / "valley-coalesce-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
  root_ = tmpl;
}

Runs::~Runs() {
  if (!std::getenv("VALLEY_E2E_KEEP")) {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
}

Result Runs::run(const Spec& spec, Mode mode) {
  const fs::path dir = root_ / mode_name(mode);
  fs::remove_all(dir);
  fs::create_directories(dir / "work");
  fs::create_directories(dir / "home");
  std::vector<std::string> target;
  if (mode == Mode::coalesce) {
    target = {std::string("LD_PRELOAD=") + VALLEY_SHIM, "VALLEY_DIR=" + (dir / "trace").string(),
              "VALLEY_COALESCE=1", "VALLEY_COALESCE_KINDS=file,pipe,fifo,tcp,unix-stream"};
    if (spec.stdio) target.push_back("VALLEY_COALESCE_STDIO=1");
    target.insert(target.end(), spec.coalesce_env.begin(), spec.coalesce_env.end());
  } else if (mode == Mode::naive) {
    target = {std::string("LD_PRELOAD=") + VALLEY_NAIVE};
  }
  int limit = mode == Mode::naive ? std::min(spec.timeout_seconds, spec.naive_timeout) : spec.timeout_seconds;
  Result r{mode, e2e::run_pipeline(spec.stages, dir / "work", "", e2e::base_environment(dir / "home"),
                                   target, limit),
           dir / "work", json()};
  if (mode == Mode::coalesce && fs::exists(dir / "trace")) {
    e2e::RunResult d = e2e::run_pipeline({{VALLEY_BIN, "dump", "--json", (dir / "trace").string()}},
                                         dir, "", e2e::base_environment(dir / "home"), {}, 60);
    r.dump = json::parse(d.out, nullptr, false);
  }
  return r;
}

namespace {

// Event flag names, robust to the advisor naming the coalescer's bits or showing them in hex.
uint32_t flag_bits(const json& flags) {
  uint32_t bits = 0;
  if (!flags.is_array()) return 0;
  for (const json& f : flags) {
    if (!f.is_string()) continue;
    std::string s = f.get<std::string>();
    if (s.rfind("0x", 0) == 0) bits |= static_cast<uint32_t>(std::strtoul(s.c_str(), nullptr, 16));
    else if (s.find("coalesc") != std::string::npos || s == "absorbed" || s == "buffered") bits |= 4;
    else if (s.find("flush") != std::string::npos) bits |= 8;
  }
  return bits;
}

bool flush_site(const json& site) {
  if (site.is_number_unsigned()) return site.get<uint64_t>() == 0xFFFFFFFDu;
  if (site.is_string()) return site.get<std::string>().find("flush") != std::string::npos;
  return false;
}

} // namespace

Evidence evidence(const json& dump) {
  Evidence ev;
  if (!dump.is_object() || !dump.contains("processes")) return ev;
  for (const json& p : dump["processes"]) {
    if (!p.contains("events")) continue;
    for (const json& e : p["events"]) {
      uint32_t bits = flag_bits(e.value("flags", json::array()));
      std::string kind = e.value("fd_kind", json()).is_string() ? e["fd_kind"].get<std::string>() : "?";
      if (bits & 4) { // a run record stands for `calls` absorbed calls
        const uint64_t calls = e.value("calls", json()).is_number() ? e["calls"].get<uint64_t>() : 1;
        ev.absorbed += calls;
        ev.absorbed_by_kind[kind] += calls;
      }
      if ((bits & 8) || flush_site(e.value("site", json()))) {
        uint64_t size = e.value("size", json()).is_number() ? e["size"].get<uint64_t>() : 0;
        ++ev.flushes;
        ++ev.flushes_by_kind[kind];
        ev.flush_bytes += size;
        ev.max_flush = std::max(ev.max_flush, size);
        ev.max_flush_by_kind[kind] = std::max(ev.max_flush_by_kind[kind], size);
      }
    }
  }
  return ev;
}

std::string Evidence::str() const {
  std::string s = "absorbed " + std::to_string(absorbed) + " {";
  for (auto& [k, v] : absorbed_by_kind) s += k + ":" + std::to_string(v) + " ";
  s += "} flushes " + std::to_string(flushes) + " {";
  for (auto& [k, v] : flushes_by_kind) s += k + ":" + std::to_string(v) + " ";
  return s + "} bytes " + std::to_string(flush_bytes) + " max " + std::to_string(max_flush);
}

} // namespace valley::coalesce_test
