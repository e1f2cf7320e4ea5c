// SPDX-License-Identifier: MIT
// The built `valley dump` on synthetic run directories: exact text lines, JSON fields equal to
// the fixture's numbers, damaged traces, symbolized call sites, and bad arguments.
#include "subprocess.h"
#include "trace_builder.h"
#include "victim_map.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

using namespace valley;
using nlohmann::json;
using valley::testing::make_event;
using valley::testing::Outcome;
using valley::testing::run;
using valley::testing::sample_trace;
using valley::testing::TempDir;
using valley::testing::TraceBuilder;
using valley::testing::write_file;

namespace {

Outcome dump(const std::vector<std::string>& args) {
  std::vector<std::string> argv{VALLEY_BIN, "dump"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    out.push_back(l);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const std::string& l : lines(text))
    if (l == line) return true;
  return false;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

#define EXPECT_LINE(text, line)                                                                    \
  EXPECT_TRUE(has_line(text, line)) << "no line: " << line << "\nin:\n" << text

/// The sample trace, and a forked child of it killed before its first drain.
void write_fixture(const std::filesystem::path& dir) {
  sample_trace(3410).write(dir);
  TraceBuilder child(3411);
  child.header.origin = Origin::fork;
  child.header.parent_pid = 3410;
  child.header.ppid = 3410;
  child.header.state = 0;
  child.events_file = false;
  child.add_module("linux-vdso.so.1", 0x7ffd00000000, 0x7ffd00000000, 0x7ffd00002000);
  child.undrained.push_back(make_event(Op::send, 4, FdKind::tcp, 100, 60, 1500, 0));
  child.undrained.back().flags = kEventNested | 0x80; // a bit this valley has no name for
  child.write(dir);
}

class DumpTest : public ::testing::Test {
protected:
  TempDir dir;
  std::string path() const { return dir.path().string(); }
};

TEST_F(DumpTest, TextHasOneLinePerRecord) {
  write_fixture(dir.path());
  Outcome r = dump({path()});
  ASSERT_TRUE(r.exited(0)) << r.describe();
  const std::string& out = r.out;
  EXPECT_LINE(out, "valley dump of " + path() + ": 2 trace(s)");
  EXPECT_LINE(out, "== process 3410-0: pid 3410, ppid 1, origin start, state finished, duration "
                   "1.00ms");
  EXPECT_LINE(out, "  command: victim --flag 'two words'");
  EXPECT_LINE(out, "  exe: /usr/bin/victim");
  EXPECT_LINE(out, "  clock: tsc, 0.5000 ns/tick");
  EXPECT_LINE(out, "  coverage: not measured");
  EXPECT_LINE(out, "  loss: 0 events dropped, 0 torn while draining, 2 late");
  EXPECT_LINE(out, "  modules (2):");
  EXPECT_LINE(
      out,
      "    [0] /nonexistent/bin/victim bias 0x555500000000 range 0x555500000000-0x555500010000 "
      "build-id none main");
  EXPECT_LINE(out, "  call sites (2):");
  // The fixture's module files do not exist here: frames fall back to module+offset.
  EXPECT_LINE(out, "    site 0: victim+0x1234");
  EXPECT_LINE(out, "      stack 1 (site 0, hits 1):");
  EXPECT_LINE(out, "        #1 victim+0x1500");
  EXPECT_LINE(out, "    site 5 [split]: libc.so.6+0x1000");
  EXPECT_LINE(out, "      caller: victim+0x1600");
  EXPECT_LINE(out, "  counters (3):");
  EXPECT_LINE(out,
              "    catch-all (table full): calls 2, bytes 0, requested 0, errors 0, eof 0, time "
              "0ns");
  EXPECT_LINE(out, "    site 0 write file: calls 100, bytes 800, requested 800, errors 0, eof 0, "
                   "time 10000ns, last fd 3 /tmp/out.csv");
  EXPECT_LINE(out, "      sizes: [8,16):100");
  EXPECT_LINE(out, "      gaps: first-or-0:1 [1.02us,2.05us):99");
  EXPECT_LINE(out,
              "    site 5 read pipe: calls 7, bytes 0, requested 0, errors 0, eof 0, time 0ns");
  EXPECT_LINE(out, "    [2] fd 0 pipe pipe:[1234]");
  EXPECT_LINE(out,
              "    +0.500us tid 4242 write fd 3 file size 8 -> 8 off - dur 100ns site 0 file 1");
  EXPECT_LINE(out,
              "    +1.000us tid 4242 write fd 3 file size 8 -> 8 off - dur 100ns site 0 file 1 "
              "[late]");
  EXPECT_LINE(out, "    +1.600us tid 4242 read fd 0 pipe size 64 -> error EAGAIN off - dur 100ns "
                   "site 5 file 2 [ring]");
  EXPECT_LINE(out, "  events read: 9 (7 from the events file, 2 from the ring), last at +1.600us, "
                   "1 torn ring slots, 0 invalid");
  EXPECT_LINE(out, "== process 3411-0: pid 3411, ppid 3410, origin fork of 3410-0, state "
                   "killed-or-crashed, duration 1.00ms");
  EXPECT_LINE(out,
              "    [0] linux-vdso.so.1 bias 0x7ffd00000000 range 0x7ffd00000000-0x7ffd00002000 "
              "build-id none");
  EXPECT_LINE(out, "    +0.250us tid 4242 send fd 4 tcp size 100 -> 60 off - dur 100ns site 0 file "
                   "0 [nested,0x80,ring]");
  EXPECT_LINE(out, "== 0 problem(s)");
  EXPECT_EQ(r.err, "");
}

TEST_F(DumpTest, JsonFieldsEqualTheFixture) {
  write_fixture(dir.path());
  Outcome r = dump({"--json", path()});
  ASSERT_TRUE(r.exited(0)) << r.describe();
  json j = json::parse(r.out);
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(j["run_dir"], path());
  EXPECT_TRUE(j["problems"].empty());
  ASSERT_EQ(j["processes"].size(), 2u);

  const json& p = j["processes"][0];
  EXPECT_EQ(p["pid"], 3410);
  EXPECT_EQ(p["ppid"], 1);
  EXPECT_EQ(p["seq"], 0);
  EXPECT_EQ(p["origin"], "start");
  EXPECT_TRUE(p["parent"].is_null());
  EXPECT_EQ(p["command"], json::array({"victim", "--flag", "two words"}));
  EXPECT_EQ(p["exe"], "/usr/bin/victim");
  EXPECT_EQ(p["state"], "finished");
  EXPECT_EQ(p["duration_ns"], 1000000);
  EXPECT_EQ(p["clock"]["ns_per_tick"], 0.5);
  EXPECT_EQ(p["coverage"]["valid"], false);
  EXPECT_EQ(p["events_dropped"], 0);
  EXPECT_EQ(p["events_late"], 2);
  EXPECT_EQ(p["events_total"], 9);
  EXPECT_EQ(p["events_from_file"], 7);
  EXPECT_EQ(p["events_from_ring"], 2);
  EXPECT_EQ(p["events_torn"], 1);
  EXPECT_EQ(p["modules"].size(), 2u);
  EXPECT_EQ(p["modules"][1]["path"], "/nonexistent/lib/libc.so.6");
  EXPECT_EQ(p["modules"][0]["main"], true);
  ASSERT_EQ(p["sites"].size(), 2u);
  EXPECT_EQ(p["sites"][1]["id"], 5);
  EXPECT_EQ(p["sites"][1]["flags"], json::array({"split"}));
  EXPECT_EQ(p["sites"][1]["caller"]["text"], "victim+0x1600");
  EXPECT_EQ(p["sites"][1]["stacks"][0]["frames"].size(), 3u);

  ASSERT_EQ(p["counters"].size(), 3u);
  const json& c = p["counters"][1];
  EXPECT_EQ(c["site"], 0);
  EXPECT_EQ(c["op"], "write");
  EXPECT_EQ(c["fd_kind"], "file");
  EXPECT_EQ(c["path"], "/tmp/out.csv");
  EXPECT_EQ(c["calls"], 100);
  EXPECT_EQ(c["bytes"], 800);
  EXPECT_EQ(c["requested"], 800);
  EXPECT_EQ(c["errors"], 0);
  EXPECT_EQ(c["time_ns"], 10000);
  EXPECT_EQ(c["location"], "victim+0x1234");
  EXPECT_EQ(c["size_hist"], (json{{"8", 100}}));
  EXPECT_EQ(c["gap_hist_ns"], (json{{"0", 1}, {"1024", 99}}));
  EXPECT_TRUE(p["counters"][0]["catch_all"]);

  ASSERT_EQ(p["events"].size(), 9u);
  const json& e = p["events"][8];
  EXPECT_EQ(e["op"], "read");
  EXPECT_EQ(e["result"], -11);
  EXPECT_EQ(e["errno"], "EAGAIN");
  EXPECT_EQ(e["source"], "ring");
  EXPECT_EQ(e["t_us"], 1.6);
  EXPECT_EQ(e["duration_ns"], 100);
  EXPECT_TRUE(e["offset"].is_null());

  const json& child = j["processes"][1];
  EXPECT_EQ(child["origin"], "fork");
  EXPECT_EQ(child["parent"], (json{{"pid", 3410}, {"seq", 0}}));
  EXPECT_EQ(child["state"], "killed-or-crashed");
  EXPECT_EQ(child["events_total"], 1);
  EXPECT_EQ(child["last_event_us"], 0.25);
}

TEST_F(DumpTest, NoEventsStillCountsThem) {
  write_fixture(dir.path());
  Outcome r = dump({"--json", "--no-events", path()});
  ASSERT_TRUE(r.exited(0)) << r.describe();
  json j = json::parse(r.out);
  EXPECT_FALSE(j["processes"][0].contains("events"));
  EXPECT_EQ(j["processes"][0]["events_total"], 9);
  Outcome t = dump({"--no-events", path()});
  EXPECT_LINE(t.out, "  events: not listed (--no-events)");
  EXPECT_EQ(t.out.find("tid 4242"), std::string::npos);
}

size_t count_lines_with(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (const std::string& l : lines(text))
    n += l.find(part) != std::string::npos;
  return n;
}

// A text dump lists the first 1000 events of the run unless told otherwise (issue 13: `dd bs=1
// count=200000` printed 36 MB); JSON lists all unless told otherwise. Counts stay whole.
TEST_F(DumpTest, EventsListedAreLimited) {
  TraceBuilder a(10), b(11);
  a.ring_capacity = b.ring_capacity = 2048;
  for (uint64_t i = 0; i < 1200; ++i)
    a.drained.push_back(make_event(Op::write, 3, FdKind::regular, 8, 8, 2000 + 300 * i, 0));
  for (uint64_t i = 0; i < 5; ++i)
    b.drained.push_back(make_event(Op::write, 3, FdKind::regular, 8, 8, 2000 + 300 * i, 0));
  a.write(dir.path());
  b.write(dir.path());

  Outcome t = dump({path()});
  ASSERT_TRUE(t.exited(0)) << t.describe();
  EXPECT_EQ(count_lines_with(t.out, " tid 4242 write fd 3 "), 1000u);
  EXPECT_LINE(t.out, "    … 200 more event(s) not listed: the dump lists the first 1000 of the run "
                     "(--events N, or --events all for every one)");
  EXPECT_LINE(t.out, "    … 5 more event(s) not listed: the dump lists the first 1000 of the run "
                     "(--events N, or --events all for every one)");
  EXPECT_LINE(t.out, "  events read: 1200 (1200 from the events file, 0 from the ring), last at "
                     "+180.350us, 0 torn ring slots, 0 invalid");

  Outcome all = dump({"--events", "all", path()});
  EXPECT_EQ(count_lines_with(all.out, " tid 4242 write fd 3 "), 1205u);
  EXPECT_EQ(count_lines_with(all.out, " more event(s) not listed"), 0u);
  Outcome two = dump({"--events=1202", path()});
  EXPECT_EQ(count_lines_with(two.out, " tid 4242 write fd 3 "), 1202u);
  EXPECT_LINE(two.out, "    … 3 more event(s) not listed: the dump lists the first 1202 of the "
                       "run (--events N, or --events all for every one)");

  Outcome j = dump({"--json", path()});
  ASSERT_TRUE(j.exited(0)) << j.describe();
  json doc = json::parse(j.out);
  EXPECT_EQ(doc["processes"][0]["events"].size(), 1200u);
  EXPECT_EQ(doc["processes"][1]["events"].size(), 5u);
  doc = json::parse(dump({"--json", "--events", "3", path()}).out);
  EXPECT_EQ(doc["processes"][0]["events"].size(), 3u);
  EXPECT_EQ(doc["processes"][0]["events_total"], 1200);
  EXPECT_EQ(doc["processes"][1]["events"].size(), 0u);
  EXPECT_EQ(doc["processes"][1]["events_total"], 5);
}

TEST_F(DumpTest, DamagedTraceIsReportedAndOthersShown) {
  write_fixture(dir.path());
  std::string bad = sample_trace(3410).segment();
  bad[1] = '?';
  write_file(dir.path() / "3410-0.vseg", bad);
  std::string ev = sample_trace(3410).events();
  ev.resize(ev.size() - 3);
  write_file(dir.path() / "3410-0.vev", ev);

  Outcome r = dump({path()});
  ASSERT_TRUE(r.exited(1)) << r.describe();
  EXPECT_LINE(r.out, "== process 3410-0: segment unreadable");
  EXPECT_LINE(r.out, "  problem: 3410-0.vseg: bad magic at offset 0x0: not a valley segment");
  EXPECT_LINE(r.out, "  problem: 3410-0.vev: truncated record at offset 0x1a0: 45 of 48 bytes; "
                     "the records before it are kept");
  EXPECT_LINE(r.out, "== process 3411-0: pid 3411, ppid 3410, origin fork of 3410-0, state "
                     "killed-or-crashed, duration 1.00ms");
  EXPECT_LINE(r.out, "== 2 problem(s)");
  EXPECT_NE(r.err.find("valley: error: 2 problem(s) in the traces of"), std::string::npos) << r.err;

  Outcome j = dump({"--json", path()});
  ASSERT_TRUE(j.exited(1)) << j.describe();
  json doc = json::parse(j.out);
  ASSERT_EQ(doc["problems"].size(), 2u);
  EXPECT_EQ(doc["problems"][0]["file"], "3410-0.vseg");
  EXPECT_EQ(doc["processes"][0]["readable"], false);
  EXPECT_EQ(doc["processes"][0]["events_total"], 6);
  EXPECT_EQ(doc["processes"][1]["pid"], 3411);
  EXPECT_EQ(doc["processes"][1]["events_total"], 1);
}

TEST_F(DumpTest, NonUtf8PathsStillGiveValidJson) {
  TraceBuilder b(1);
  b.add_file(3, FdKind::regular, "/tmp/\xff\xfe-latin1-\xe9");
  b.set_cmdline({"prog\xc3", "arg\nline"});
  b.write(dir.path());
  Outcome r = dump({"--json", path()});
  ASSERT_TRUE(r.exited(0)) << r.describe();
  json j = json::parse(r.out);
  EXPECT_EQ(j["processes"][0]["command"].size(), 2u);
  Outcome t = dump({path()});
  EXPECT_LINE(t.out, "  command: 'prog\\xc3' 'arg\\x0aline'");
}

TEST_F(DumpTest, SymbolizesCallSitesOfARealBinary) {
  auto victim = valley::testing::run_victim(VALLEY_SYMBOL_VICTIM);
  ASSERT_EQ(victim.error, "");
  TraceBuilder b(1);
  b.module_capacity = 64;
  b.modules = victim.modules;
  b.add_stack(0, {victim.exe.address, victim.lib.address});
  b.add_site(0, victim.exe.address, 1);
  SiteRow& split = b.add_site(1, victim.lib.address);
  split.flags |= kSiteSplit;
  split.caller = victim.exe.address;
  b.add_counter(0, 0, Op::write, FdKind::tty).calls = 3;
  b.add_counter(1, 1, Op::write, FdKind::tty).calls = 4;
  b.write(dir.path());

  Outcome r = dump({"--json", path()});
  ASSERT_TRUE(r.exited(0)) << r.describe();
  json p = json::parse(r.out)["processes"][0];
  for (const json& c : p["counters"]) {
    // Both count in outer_function: site 1 is a library call split by that caller.
    EXPECT_EQ(c["function"], "victim::outer_function(int*)");
    EXPECT_EQ(c["line"], victim.exe.line);
    EXPECT_TRUE(ends_with(c["file"].get<std::string>(), "symbol_victim.cpp")) << c["file"];
  }
  const json& lib_frame = p["sites"][1]["frame"];
  EXPECT_EQ(lib_frame["function"], "victim_lib::library_function(int*)");
  EXPECT_EQ(lib_frame["line"], victim.lib.line);
  EXPECT_EQ(p["sites"][0]["stacks"][0]["frames"][1]["function"],
            "victim_lib::library_function(int*)");

  Outcome t = dump({path()});
  std::string file = p["counters"][0]["file"];
  std::string at_exe =
      "victim::outer_function(int*) at " + file + ":" + std::to_string(victim.exe.line);
  EXPECT_LINE(t.out, "    site 0: " + at_exe);
  EXPECT_LINE(t.out, "      caller: " + at_exe);
  EXPECT_LINE(t.out, "        #0 " + at_exe);
}

TEST_F(DumpTest, BadArgumentsExitTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{{},
                                                                {"--bogus", path()},
                                                                {path(), path()},
                                                                {"--json"},
                                                                {"--events", path()},
                                                                {"--events", "-1", path()},
                                                                {"--events=12k", path()}}) {
    Outcome r = dump(args);
    EXPECT_TRUE(r.exited(2)) << r.describe();
    EXPECT_EQ(r.err.rfind("valley: error: dump: ", 0), 0u) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(DumpTest, MissingOrEmptyDirectoryIsAnError) {
  Outcome missing = dump({path() + "/nope"});
  EXPECT_TRUE(missing.exited(1)) << missing.describe();
  EXPECT_EQ(missing.err, "valley: error: " + path() + "/nope: no such directory\n");
  Outcome empty = dump({path()});
  EXPECT_TRUE(empty.exited(1)) << empty.describe();
  EXPECT_EQ(empty.err, "valley: error: " + path() + ": no traces here (no <pid>-<n>.vseg files)\n");
}

TEST_F(DumpTest, TopLevelHelpAndVersion) {
  Outcome help = run({VALLEY_BIN, "--help"});
  EXPECT_TRUE(help.exited(0));
  EXPECT_NE(help.out.find("  dump "), std::string::npos);
  EXPECT_NE(help.out.find("  run "), std::string::npos);
  Outcome dump_help = run({VALLEY_BIN, "help", "dump"});
  EXPECT_TRUE(dump_help.exited(0));
  EXPECT_EQ(dump_help.out.rfind("usage: valley dump", 0), 0u);
  EXPECT_EQ(run({VALLEY_BIN, "dump", "--help"}).out, dump_help.out);
  Outcome version = run({VALLEY_BIN, "--version"});
  EXPECT_TRUE(version.exited(0));
  EXPECT_EQ(version.out.rfind("valley ", 0), 0u);
  Outcome none = run({VALLEY_BIN});
  EXPECT_TRUE(none.exited(2));
  Outcome unknown = run({VALLEY_BIN, "frobnicate"});
  EXPECT_TRUE(unknown.exited(2));
  EXPECT_EQ(unknown.err.rfind("valley: error: unknown command 'frobnicate'", 0), 0u);
}

} // namespace
