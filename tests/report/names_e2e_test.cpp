// SPDX-License-Identifier: MIT
// Names in `valley report` and `valley dump` on programs as users build them (issue 11):
// functions inlined at -O2, I/O made inside a library, modules without symbols, programs
// started through a symlink, and stacks that only differ before symbolization. The victims'
// ground-truth lines are marked "// SITE", "// CALL", "// LOOP", "// LIB_PUT", … in their source.
#include "subprocess.h"
#include "trace_builder.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unistd.h>

namespace fs = std::filesystem;
using nlohmann::json;
using valley::testing::Outcome;
using valley::testing::run;
using valley::testing::SpawnOptions;

namespace {

class Names : public ::testing::Test {
protected:
  static std::string victim(const std::string& name) {
    return std::string(VALLEY_VICTIM_DIR) + "/valley_report_victim_" + name;
  }
  // The line of `source` that carries `mark` ("// SITE").
  static int line_of(const std::string& source, const std::string& mark) {
    std::ifstream in(std::string(VALLEY_VICTIM_SOURCES) + "/" + source);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
      if (line.find("// " + mark) != std::string::npos) return n;
    ADD_FAILURE() << "no " << mark << " in " << source;
    return -1;
  }
  // Traces argv under the real shim into tmp/run, in tmp.
  void trace(const std::vector<std::string>& cmd) {
    std::vector<std::string> argv{VALLEY_BIN, "run", "--dir", (tmp_ / "run").string(), "--"};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    SpawnOptions o;
    o.env.push_back(std::string("VALLEY_SHIM=") + VALLEY_REAL_SHIM);
    o.cwd = tmp_.string();
    Outcome r = run(argv, o);
    ASSERT_TRUE(r.exited(0)) << r.describe();
  }
  Outcome valley(std::vector<std::string> args) {
    args.insert(args.begin(), VALLEY_BIN);
    args.push_back((tmp_ / "run").string());
    return run(args);
  }
  json report_json() {
    Outcome r = valley({"report", "--format", "json"});
    EXPECT_TRUE(r.exited(0)) << r.describe();
    return json::parse(r.out);
  }
  std::string report_text() {
    Outcome r = valley({"report"});
    EXPECT_TRUE(r.exited(0)) << r.describe();
    return r.out;
  }
  json dump_json() {
    Outcome r = valley({"dump", "--json", "--no-events"});
    EXPECT_TRUE(r.exited(0)) << r.describe();
    return json::parse(r.out);
  }
  valley::testing::TempDir dir_;
  const fs::path& tmp_ = dir_.path();
};

std::string file_name(const json& frame) {
  return frame["file"].is_string() ? fs::path(frame["file"].get<std::string>()).filename().string()
                                   : std::string();
}

// The lines of `text` from the first one containing `first`, `n` of them.
std::vector<std::string> lines_from(const std::string& text, const std::string& first, size_t n) {
  std::vector<std::string> out;
  size_t at = text.find(first);
  if (at == std::string::npos) return out;
  at = text.rfind('\n', at) + 1;
  while (out.size() < n && at < text.size()) {
    size_t nl = text.find('\n', at);
    std::string l = text.substr(at, nl - at);
    out.push_back(l.substr(l.find_first_not_of(' ')));
    at = nl == std::string::npos ? text.size() : nl + 1;
  }
  return out;
}

// S-07. -O2 inlines put_field into emit_row into main: the finding, its stack and the dump name
// the inlined function at its own line, then each function it was inlined into at the line of
// the inlined call, innermost first.
TEST_F(Names, InlinedHelpersAtO2) {
  trace({victim("inlined_o2"), "rows.txt"});
  const int site = line_of("inlined_o2.c", "SITE"), call = line_of("inlined_o2.c", "CALL"),
            loop = line_of("inlined_o2.c", "LOOP");
  json rep = report_json();
  ASSERT_EQ(rep["findings"].size(), 1u) << rep.dump(1);
  const json& f = rep["findings"][0];
  EXPECT_EQ(f["rule"], "small-writes");
  const json& loc = f["location"];
  EXPECT_EQ(loc["function"], "put_field") << loc.dump(1);
  EXPECT_EQ(file_name(loc), "inlined_o2.c");
  EXPECT_EQ(loc["line"], site);
  ASSERT_EQ(loc["inlined_into"].size(), 2u) << loc.dump(1);
  EXPECT_EQ(loc["inlined_into"][0]["function"], "emit_row");
  EXPECT_EQ(loc["inlined_into"][0]["line"], call);
  EXPECT_EQ(file_name(loc["inlined_into"][0]), "inlined_o2.c");
  EXPECT_EQ(loc["inlined_into"][1]["function"], "main");
  EXPECT_EQ(loc["inlined_into"][1]["line"], loop);
  EXPECT_EQ(loc["text"].get<std::string>().rfind("put_field (inlined into emit_row) at ", 0), 0u);
  EXPECT_EQ(f["evidence"]["calls"], 4000);
  ASSERT_FALSE(f["stacks"].empty());
  EXPECT_EQ(f["stacks"][0]["frames"][0]["function"], "put_field");
  EXPECT_EQ(f["stacks"][0]["frames"][0]["inlined_into"], loc["inlined_into"]);

  const std::string text = report_text();
  EXPECT_NE(text.find("[small-writes] medium  put_field (inlined into emit_row) at inlined_o2.c:" +
                      std::to_string(site)),
            std::string::npos)
      << text;
  std::vector<std::string> stack = lines_from(text, "stack (", 4);
  ASSERT_EQ(stack.size(), 4u) << text;
  EXPECT_EQ(stack[1], "put_field (inlined into emit_row) at inlined_o2.c:" + std::to_string(site));
  EXPECT_EQ(stack[2], "emit_row (inlined into main) at inlined_o2.c:" + std::to_string(call));
  EXPECT_EQ(stack[3], "main at inlined_o2.c:" + std::to_string(loop));

  json dump = dump_json();
  // main's open and close are sites of their own.
  json sites = json::array();
  for (const json& s : dump["processes"][0]["sites"])
    if (s["frame"]["function"] != "main") sites.push_back(s);
  ASSERT_EQ(sites.size(), 1u) << dump["processes"][0]["sites"].dump(1);
  EXPECT_EQ(sites[0]["frame"]["function"], "put_field");
  EXPECT_EQ(sites[0]["frame"]["inlined_into"][1]["function"], "main");
  EXPECT_EQ(sites[0]["frame"]["inlined_into"][1]["line"], loop);
  for (const json& c : dump["processes"][0]["counters"])
    if (c["op"] == "write") {
      EXPECT_EQ(c["function"], "put_field");
    }
  Outcome text_dump = valley({"dump", "--no-events"});
  ASSERT_TRUE(text_dump.exited(0)) << text_dump.describe();
  std::vector<std::string> frames = lines_from(text_dump.out, "#0 put_field", 3);
  ASSERT_EQ(frames.size(), 3u) << text_dump.out;
  EXPECT_EQ(frames[0].rfind("#0 put_field (inlined into emit_row) at ", 0), 0u) << frames[0];
  EXPECT_EQ(frames[1].rfind("emit_row (inlined into main) at ", 0), 0u) << frames[1];
  EXPECT_EQ(frames[2].rfind("main at ", 0), 0u) << frames[2];
  EXPECT_EQ(frames[2].substr(frames[2].size() - std::to_string(loop).size() - 1),
            ":" + std::to_string(loop));
}

// S-07 in C++: a member function inlined into a static template inlined into main. The
// stack's last frame, crt1's _start, has no line of its own and gets none.
TEST_F(Names, InlinedMemberFunctionAtO2) {
  trace({victim("inlined_o2_cxx"), "digits.txt"});
  json rep = report_json();
  ASSERT_EQ(rep["findings"].size(), 1u) << rep.dump(1);
  const json& loc = rep["findings"][0]["location"];
  EXPECT_EQ(loc["function"].get<std::string>().rfind("app::Sink::put(", 0), 0u) << loc.dump(1);
  EXPECT_EQ(loc["line"], line_of("inlined_o2_cxx.cpp", "SITE"));
  ASSERT_EQ(loc["inlined_into"].size(), 2u) << loc.dump(1);
  EXPECT_NE(loc["inlined_into"][0]["function"].get<std::string>().find("emit_all<int>"),
            std::string::npos);
  EXPECT_EQ(loc["inlined_into"][0]["line"], line_of("inlined_o2_cxx.cpp", "CALL"));
  EXPECT_EQ(loc["inlined_into"][1]["function"], "main");
  EXPECT_EQ(loc["inlined_into"][1]["line"], line_of("inlined_o2_cxx.cpp", "LOOP"));
  const json& frames = rep["findings"][0]["stacks"][0]["frames"];
  ASSERT_FALSE(frames.empty());
  const json& last = frames.back();
  EXPECT_EQ(last["function"], "_start") << last.dump(1);
  EXPECT_EQ(last["file"], "") << last.dump(1);
  EXPECT_EQ(last["line"], 0) << last.dump(1);
}

// S-08. One program line reaches three I/O calls in three functions of a library: three sites, each
// named by the library function that made the call and the program line that called in.
TEST_F(Names, LibraryFunctionsSplitSites) {
  trace({victim("kv_client")});
  const int call = line_of("kv_client.c", "CALL");
  json rep = report_json();
  std::map<std::string, const json*> by_fn;
  for (const json& s : rep["sites"]) {
    // main's own open and close of the files are sites too; the library's calls are the test.
    if (s["location"]["function"] != "main" || s["op"] == "open" || s["op"] == "close") continue;
    EXPECT_EQ(s["location"]["line"], call) << s.dump(1);
    by_fn[s["frame"]["function"].get<std::string>()] = &s;
  }
  ASSERT_EQ(by_fn.size(), 3u) << rep["sites"].dump(1);
  struct Want {
    const char* fn;
    const char* mark;
    const char* op;
  };
  for (const Want& w : {Want{"kv_put", "LIB_PUT", "write"}, Want{"kv_log", "LIB_LOG", "write"},
                        Want{"kv_get", "LIB_GET", nullptr}}) {
    ASSERT_TRUE(by_fn.count(w.fn)) << w.fn;
    const json& s = *by_fn[w.fn];
    EXPECT_EQ(s["calls"], 2000) << s.dump(1);
    if (w.op) {
      EXPECT_EQ(s["op"], w.op);
    }
    const json& fr = s["frame"];
    EXPECT_EQ(file_name(fr), "kv_lib.c");
    EXPECT_EQ(fr["line"], line_of("kv_lib.c", w.mark));
    EXPECT_EQ(fr["inlined_into"][0]["function"], "kv_apply");
    EXPECT_EQ(fs::path(fr["module"].get<std::string>()).filename(), "libvalley_report_kv.so");
    EXPECT_EQ(s["site_text"], "main at kv_client.c:" + std::to_string(call) + " via " + w.fn +
                                  " (inlined into kv_apply) in libvalley_report_kv.so");
  }
  // The log lines go to their own file, alone: the one finding, named by kv_log.
  const std::string text = report_text();
  EXPECT_NE(text.find("[small-writes] medium  main at kv_client.c:" + std::to_string(call) +
                      " via kv_log (inlined into kv_apply) in libvalley_report_kv.so"),
            std::string::npos)
      << text;
}

// Started through a symlink: the report and the dump name the program by the name it was
// started as, not by the file the symlink points to.
TEST_F(Names, ProgramNameIsTheCommandNotTheSymlinkTarget) {
  fs::create_symlink(victim("small_writes"), tmp_ / "log-tool");
  trace({(tmp_ / "log-tool").string(), "out.log"});
  json rep = report_json();
  ASSERT_EQ(rep["processes"].size(), 1u);
  EXPECT_EQ(rep["processes"][0]["program"], "log-tool");
  EXPECT_EQ(fs::path(rep["processes"][0]["exe"].get<std::string>()).filename(),
            "valley_report_victim_small_writes");
  const std::string text = report_text();
  EXPECT_NE(text.find(" (log-tool): coverage"), std::string::npos) << text;
  EXPECT_EQ(text.find("(valley_report_victim_small_writes)"), std::string::npos) << text;
  EXPECT_EQ(dump_json()["processes"][0]["program"], "log-tool");
}

// Two write() calls on one line: the raw stacks differ in their first return address, the
// symbolized ones do not, and the report prints that stack once with both hits.
TEST_F(Names, IdenticalSymbolizedStacksPrintOnce) {
  trace({victim("two_calls"), "out.txt"});
  json dump = dump_json();
  size_t raw = 0;
  uint64_t raw_hits = 0;
  for (const json& s : dump["processes"][0]["sites"])
    if (s["frame"]["function"] == "emit") // not main's open and close
      for (const json& st : s["stacks"])
        ++raw, raw_hits += st["hits"].get<uint64_t>();
  ASSERT_EQ(raw, 2u) << dump["processes"][0]["sites"].dump(1);
  json rep = report_json();
  ASSERT_EQ(rep["findings"].size(), 1u) << rep.dump(1);
  const json& f = rep["findings"][0];
  EXPECT_EQ(f["location"]["line"], line_of("two_calls.c", "SITE"));
  EXPECT_EQ(f["evidence"]["calls"], 3000);
  ASSERT_EQ(f["stacks"].size(), 1u) << f["stacks"].dump(1);
  EXPECT_EQ(f["stacks"][0]["hits"].get<uint64_t>(), raw_hits);
  const std::string text = report_text();
  EXPECT_EQ(text.find("stack ("), text.rfind("stack (")) << text;
}

// S-09. A stripped executable: its frames are module+0xOFFSET, and the report says so once, with
// the build-id that debuginfod would need; no package owns a file in a temporary directory.
TEST_F(Names, StrippedModuleIsNamedOnceWithItsBuildId) {
  fs::path exe = tmp_ / "sw";
  fs::copy_file(victim("small_writes"), exe);
  ASSERT_TRUE(run({"strip", "--strip-all", exe.string()}).exited(0));
  trace({exe.string(), "out.log"});
  json dump = dump_json();
  std::string build_id;
  for (const json& m : dump["processes"][0]["modules"])
    if (m["path"] == exe.string()) build_id = m["build_id"];
  ASSERT_FALSE(build_id.empty()) << dump["processes"][0]["modules"].dump(1);
  json rep = report_json();
  std::vector<const json*> hits;
  for (const json& u : rep["unnamed_modules"])
    if (u["path"] == exe.string()) hits.push_back(&u);
  ASSERT_EQ(hits.size(), 1u) << rep["unnamed_modules"].dump(1);
  EXPECT_EQ((*hits[0])["build_id"], build_id);
  EXPECT_TRUE((*hits[0])["package"].is_null());
  const std::string text = report_text();
  size_t at = text.find("Missing names");
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_NE(text.find(exe.string() + ": no symbol table and no debug info", at), std::string::npos)
      << text;
  EXPECT_NE(text.find(build_id.substr(0, 16), at), std::string::npos) << text;
  EXPECT_EQ(text.find(exe.string() + ": no symbol", text.find(exe.string() + ": no symbol") + 1),
            std::string::npos)
      << "listed more than once:\n"
      << text;
}

// The same victim unstripped: nothing is missing.
TEST_F(Names, ModulesWithSymbolsAreNotListed) {
  trace({victim("small_writes"), "out.log"});
  json rep = report_json();
  for (const json& u : rep["unnamed_modules"])
    EXPECT_EQ(u["path"].get<std::string>().find("valley_report_victim"), std::string::npos)
        << u.dump();
  EXPECT_EQ(report_text().find("Missing names"), std::string::npos);
}

} // namespace
