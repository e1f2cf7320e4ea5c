// SPDX-License-Identifier: MIT
// The built `valley export --format perfetto`: every output checked against the Trace Event
// Format as Perfetto imports it (trace_event_check.h), on synthetic traces with known times
// and args, on hostile ones, and on programs traced under the real preload.
#include "subprocess.h"
#include "trace_builder.h"
#include "trace_event_check.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>

using namespace valley;
using nlohmann::json;
using valley::testing::check_trace_events;
using valley::testing::make_event;
using valley::testing::Outcome;
using valley::testing::read_file;
using valley::testing::run;
using valley::testing::sample_trace;
using valley::testing::SpawnOptions;
using valley::testing::TempDir;
using valley::testing::trace_ns;
using valley::testing::TraceBuilder;
using valley::testing::write_file;
namespace fs = std::filesystem;

namespace {

Outcome valley(std::vector<std::string> args, const SpawnOptions& o = {}) {
  args.insert(args.begin(), VALLEY_BIN);
  return run(args, o);
}

/// A process (0.5 ns per tick from tick 1000) whose site 0 writes fd 3 /data/out.csv.
TraceBuilder writer(uint32_t pid) {
  TraceBuilder b(pid);
  b.ring_capacity = 64;
  b.add_module("/nonexistent/bin/victim", 0x555500000000, 0x555500000000, 0x555500010000).is_main =
      1;
  b.add_site(0, 0x555500001234);
  b.add_counter(1, 0, Op::write, FdKind::regular);
  b.add_file(3, FdKind::regular, "/data/out.csv");
  b.add_file(0, FdKind::pipe, "pipe:[77]");
  return b;
}

EventRecord on(EventRecord e, uint32_t tid) {
  e.tid = tid;
  return e;
}

class PerfettoExport : public ::testing::Test {
protected:
  TempDir dir;
  fs::path out() const { return dir.path() / "trace.json"; }
  fs::path run_dir() const { return dir.path() / "run"; }

  /// Exports run_dir() and returns the document, checked against the format.
  json exported(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"export", "--format", "perfetto", "-o", out().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(run_dir().string());
    last = valley(args);
    EXPECT_TRUE(last.exited(0)) << last.describe();
    json doc = json::parse(read_file(out()));
    for (const std::string& problem : check_trace_events(doc))
      ADD_FAILURE() << problem;
    return doc;
  }
  Outcome last;
};

std::vector<json> of_phase(const json& doc, const std::string& ph) {
  std::vector<json> out;
  for (const json& e : doc["traceEvents"])
    if (e["ph"] == ph) out.push_back(e);
  return out;
}

std::map<std::string, std::string> names(const json& doc, const std::string& what) {
  std::map<std::string, std::string> out;
  for (const json& e : doc["traceEvents"])
    if (e["ph"] == "M" && e["name"] == what)
      out[e["pid"].dump() + (e.contains("tid") ? "/" + e["tid"].dump() : "")] = e["args"]["name"];
  return out;
}

TEST_F(PerfettoExport, OneSlicePerCallWithItsArgs) {
  fs::create_directories(run_dir());
  TraceBuilder b = writer(100);
  b.drained.push_back(on(make_event(Op::write, 3, FdKind::regular, 12, 12, 3000, 0), 100));
  b.drained.push_back(on(make_event(Op::write, 3, FdKind::regular, 12, 12, 5000, 0), 100));
  b.drained.push_back(on(make_event(Op::read, 0, FdKind::pipe, 64, -11, 7000, 0), 4243));
  EventRecord pw = on(make_event(Op::pwrite, 3, FdKind::regular, 4096, 4096, 9000, 0), 100);
  pw.offset = 8192;
  b.drained.push_back(pw);
  b.write(run_dir());

  json doc = exported();
  std::vector<json> x = of_phase(doc, "X");
  ASSERT_EQ(x.size(), 4u) << doc.dump(1);
  // Tick 3000 is (3000 - 1000) * 0.5 ns after the start: 1 µs; 200 ticks last 100 ns.
  EXPECT_NE(read_file(out()).find("\"ts\":1.000,\"dur\":0.100,"), std::string::npos);
  EXPECT_EQ(trace_ns(x[0]["ts"]), 1000);
  EXPECT_EQ(trace_ns(x[0]["dur"]), 100);
  EXPECT_EQ(x[0]["name"], "write file");
  EXPECT_EQ(x[0]["pid"], 100);
  EXPECT_EQ(x[0]["tid"], 100);
  EXPECT_EQ(x[0]["args"], json({{"fd", 3},
                                {"path", "/data/out.csv"},
                                {"size", 12},
                                {"result", 12},
                                {"site", "victim+0x1234"}}));
  EXPECT_EQ(trace_ns(x[1]["ts"]), 2000);
  EXPECT_EQ(x[2]["name"], "read pipe");
  EXPECT_EQ(x[2]["tid"], 4243);
  EXPECT_EQ(x[2]["args"]["result"], -11);
  EXPECT_EQ(x[2]["args"]["errno"], "EAGAIN");
  EXPECT_EQ(x[2]["args"]["path"], "pipe:[77]");
  EXPECT_EQ(x[3]["name"], "pwrite file");
  EXPECT_EQ(x[3]["args"]["offset"], 8192);
  EXPECT_EQ(names(doc, "process_name"), (std::map<std::string, std::string>{{"100", "victim"}}));
  EXPECT_EQ(names(doc, "thread_name"), (std::map<std::string, std::string>{
                                           {"100/100", "victim"}, {"100/4243", "victim thread"}}));
  EXPECT_EQ(last.err, "valley: exported 1 process (" + std::to_string(doc["traceEvents"].size()) +
                          " records) to " + out().string() + "\n");
}

// kEventRun: one slice from the first call to the last with the number of calls; an absorbed
// call alone is a zero-length slice; valley's flush writes are slices of their own.
TEST_F(PerfettoExport, RunsAbsorbedCallsAndFlushes) {
  fs::create_directories(run_dir());
  TraceBuilder b = writer(100);
  EventRecord run = make_event(Op::write, 3, FdKind::regular, 1, 1, 3000, 0);
  run.flags = kEventCoalesced | kEventRun;
  run.duration = 1000; // calls
  run.offset = 13000;  // ticks of the last one
  b.drained.push_back(run);
  EventRecord one = make_event(Op::write, 3, FdKind::regular, 1, 1, 13500, 0);
  one.flags = kEventCoalesced;
  one.duration = 0;
  b.drained.push_back(one);
  EventRecord flush = make_event(Op::write, 3, FdKind::regular, 1001, 1001, 14000, kSiteFlush);
  flush.flags = kEventFlush;
  b.drained.push_back(flush);
  b.write(run_dir());

  json doc = exported();
  std::vector<json> x = of_phase(doc, "X");
  ASSERT_EQ(x.size(), 3u) << doc.dump(1);
  EXPECT_EQ(x[0]["name"], "write file (absorbed)");
  EXPECT_EQ(trace_ns(x[0]["ts"]), 1000);
  EXPECT_EQ(trace_ns(x[0]["dur"]), 5000);
  EXPECT_EQ(x[0]["args"]["calls"], 1000);
  EXPECT_FALSE(x[0]["args"].contains("offset"));
  EXPECT_EQ(x[1]["name"], "write file (absorbed)");
  EXPECT_EQ(trace_ns(x[1]["dur"]), 0);
  EXPECT_EQ(x[2]["name"], "valley flush: write file");
  EXPECT_EQ(x[2]["args"],
            json({{"fd", 3}, {"path", "/data/out.csv"}, {"size", 1001}, {"result", 1001}}));
  // The fd's counter is the program's bytes (the run and the absorbed call, not the flush):
  // integrated over time it gives them back.
  std::vector<json> c = of_phase(doc, "C");
  ASSERT_GE(c.size(), 2u);
  double bytes = 0;
  for (size_t i = 0; i + 1 < c.size(); ++i) {
    EXPECT_EQ(c[i]["name"], "fd 3 /data/out.csv");
    EXPECT_FALSE(c[i]["args"].contains("read B/s")) << "fd 3 was only written";
    bytes += c[i]["args"]["write B/s"].get<double>() *
             static_cast<double>(trace_ns(c[i + 1]["ts"]) - trace_ns(c[i]["ts"])) / 1e9;
  }
  EXPECT_EQ(c.back()["args"]["write B/s"], 0);
  EXPECT_NEAR(bytes, 1001, 1);
}

/// Bytes a counter track's points say moved in [from_ns, to_ns): the rate holds until the next
/// point.
double bytes_between(const std::vector<json>& points, const std::string& arg, int64_t from_ns,
                     int64_t to_ns) {
  double bytes = 0;
  for (size_t i = 0; i + 1 < points.size(); ++i) {
    const int64_t a = std::max(from_ns, trace_ns(points[i]["ts"]));
    const int64_t b = std::min(to_ns, trace_ns(points[i + 1]["ts"]));
    if (b > a) bytes += points[i]["args"][arg].get<double>() * static_cast<double>(b - a) / 1e9;
  }
  return bytes;
}

// The bins follow the calls even when a call lies past the end the header announced (the bins
// widen) and a run spreads its bytes from its first call to its last.
TEST_F(PerfettoExport, CounterBinsFollowTheCalls) {
  fs::create_directories(run_dir());
  TraceBuilder b = writer(100); // 1 ms long: 2M ticks at 0.5 ns
  b.drained.push_back(make_event(Op::read, 0, FdKind::pipe, 100, 100, 1000 + 200'000, 0));
  EventRecord run = make_event(Op::write, 0, FdKind::pipe, 1, 1, 1000 + 1'000'000, 0);
  run.flags = kEventCoalesced | kEventRun;
  run.duration = 3500;           // calls, 1 byte each
  run.offset = 1000 + 8'000'000; // from 0.5 ms to 4 ms
  b.drained.push_back(run);
  b.write(run_dir());
  const std::vector<json> c = of_phase(exported(), "C");
  ASSERT_GE(c.size(), 3u);
  EXPECT_EQ(c[0]["name"], "fd 0 pipe:[77]");
  EXPECT_NEAR(bytes_between(c, "read B/s", 0, 5'000'000), 100, 0.5);
  EXPECT_NEAR(bytes_between(c, "read B/s", 0, 80'000), 0, 0.5) << "the read was at 0.1 ms";
  EXPECT_NEAR(bytes_between(c, "write B/s", 0, 5'000'000), 3500, 0.5);
  // The run's bytes are spread over 0.5–4 ms, to within one bin (7.8 µs here).
  EXPECT_NEAR(bytes_between(c, "write B/s", 0, 2'000'000), 1500, 20);
  EXPECT_NEAR(bytes_between(c, "write B/s", 0, 500'000), 0, 10);
}

// The shim records a call when it returns: a signal handler's call inside another comes first.
TEST_F(PerfettoExport, NestedCallsStaySlicesWhicheverComesFirst) {
  fs::create_directories(run_dir());
  TraceBuilder b = writer(100);
  EventRecord inner = make_event(Op::write, 0, FdKind::pipe, 1, 1, 5000, 0);
  inner.flags = kEventNested;
  EventRecord outer = make_event(Op::read, 0, FdKind::pipe, 1, 1, 4000, 0);
  outer.duration = 4000;
  b.drained = {inner, outer};
  b.write(run_dir());
  json doc = exported();
  std::vector<json> x = of_phase(doc, "X");
  ASSERT_EQ(x.size(), 2u);
  EXPECT_EQ(x[0]["args"]["nested"], true);
  EXPECT_EQ(of_phase(doc, "i").size(), 0u);
}

// Slices of one thread that overlap only in part cannot nest: the later one is an instant,
// with its duration in its args, and valley says so.
TEST_F(PerfettoExport, PartialOverlapBecomesAnInstant) {
  fs::create_directories(run_dir());
  TraceBuilder b = writer(100);
  EventRecord a = make_event(Op::write, 3, FdKind::regular, 1, 1, 3000, 0);
  a.duration = 2000; // [1000, 2000) ns
  EventRecord c = make_event(Op::write, 3, FdKind::regular, 1, 1, 4000, 0);
  c.duration = 2000; // [1500, 2500) ns
  b.drained = {a, c};
  b.write(run_dir());
  json doc = exported();
  ASSERT_EQ(of_phase(doc, "X").size(), 1u);
  std::vector<json> i = of_phase(doc, "i");
  ASSERT_EQ(i.size(), 1u);
  EXPECT_EQ(i[0]["name"], "write file (overlaps another call)");
  EXPECT_EQ(trace_ns(i[0]["ts"]), 1500);
  EXPECT_EQ(trace_ns(i[0]["args"]["dur_us"]), 1000);
  EXPECT_NE(last.err.find("valley: warning: 1 calls overlap another call of their thread"),
            std::string::npos)
      << last.err;
}

// Every process is placed on one timeline: CLOCK_MONOTONIC, from the earliest start.
TEST_F(PerfettoExport, ProcessesShareOneTimelineAndFiltersApply) {
  fs::create_directories(run_dir());
  TraceBuilder a = writer(100);
  a.drained.push_back(on(make_event(Op::write, 3, FdKind::regular, 1, 1, 3000, 0), 100));
  a.write(run_dir());
  TraceBuilder b = writer(200);
  b.header.calib_ns0 = 5000; // started 5 µs after process 100, at 1 ns per tick
  b.header.calib_ns1 = 5000 + 2'000'000;
  b.drained.push_back(on(make_event(Op::write, 3, FdKind::regular, 1, 1, 2000, 0), 200));
  b.write(run_dir());

  json doc = exported();
  std::vector<json> x = of_phase(doc, "X");
  ASSERT_EQ(x.size(), 2u);
  EXPECT_EQ(trace_ns(x[0]["ts"]), 1000);
  EXPECT_EQ(x[1]["pid"], 200);
  EXPECT_EQ(trace_ns(x[1]["ts"]), 6000);
  EXPECT_EQ(trace_ns(x[1]["dur"]), 200);

  x = of_phase(exported({"--pid", "200"}), "X");
  ASSERT_EQ(x.size(), 1u);
  EXPECT_EQ(x[0]["pid"], 200);
  x = of_phase(exported({"--from", "0.000002", "--to", "0.00001"}), "X");
  ASSERT_EQ(x.size(), 1u);
  EXPECT_EQ(x[0]["pid"], 200);
  x = of_phase(exported({"--to", "0.000005"}), "X");
  ASSERT_EQ(x.size(), 1u);
  EXPECT_EQ(x[0]["pid"], 100);
  Outcome none = valley(
      {"export", "--format", "perfetto", "-o", out().string(), "--pid", "300", run_dir().string()});
  EXPECT_TRUE(none.exited(1)) << none.describe();
}

// R-07 and damaged values: names that are not UTF-8 or hold control characters, times far
// outside the run, an unreadable segment. The output stays valid and says what it left out.
TEST_F(PerfettoExport, HostileTracesGiveValidOutput) {
  fs::create_directories(run_dir());
  sample_trace(3410).write(run_dir()); // its events overlap each other
  TraceBuilder b = writer(100);
  b.set_cmdline({"evil\x1b[31m\xff", "x"});
  b.files[0].path[5] = '\xfe';
  b.files[0].path[6] = '\n';
  b.drained.push_back(make_event(Op::write, 3, FdKind::regular, 1, 1, 3000, 0));
  b.drained.push_back(make_event(Op::write, 3, FdKind::regular, 1, 1, uint64_t{1} << 62, 0));
  b.drained.push_back(make_event(Op::write, 3, FdKind::regular, 1, 1, 10, 0)); // before the run
  EventRecord run = make_event(Op::write, 3, FdKind::regular, 1, 1, 4000, 0);
  run.flags = kEventCoalesced | kEventRun;
  run.duration = 4'000'000'000u;
  run.offset = int64_t{1} << 61;
  b.drained.push_back(run);
  b.write(run_dir());
  write_file(run_dir() / "500-0.vseg", "not a segment");

  json doc = exported();
  EXPECT_EQ(names(doc, "process_name")["100"], "evil\x1b[31m\xef\xbf\xbd");
  EXPECT_EQ(names(doc, "process_name")["500"], "pid 500");
  size_t from_100 = 0;
  for (const json& e : doc["traceEvents"])
    if (e["ph"] == "X" && e["pid"] == 100) {
      ++from_100;
      EXPECT_EQ(e["args"]["path"], "/data\xef\xbf\xbd\nut.csv");
    }
  EXPECT_EQ(from_100, 2u);
  EXPECT_NE(last.err.find("valley: warning: 2 events left out: their times are not plausible"),
            std::string::npos)
      << last.err;
  EXPECT_NE(last.err.find("500-0: the segment header is unreadable"), std::string::npos)
      << last.err;
}

TEST_F(PerfettoExport, OutputIsReplacedOnlyWhenComplete) {
  fs::create_directories(run_dir());
  writer(100).write(run_dir());
  write_file(out(), "precious");
  Outcome missing = valley(
      {"export", "--format", "perfetto", "-o", out().string(), (dir.path() / "nope").string()});
  EXPECT_TRUE(missing.exited(1)) << missing.describe();
  EXPECT_EQ(read_file(out()), "precious");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2)
      << "no temporary file is left behind";

  Outcome into_trace = valley({"export", "--format", "perfetto", "-o",
                               (run_dir() / "100-0.vev").string(), run_dir().string()});
  EXPECT_TRUE(into_trace.exited(1)) << into_trace.describe();
  EXPECT_NE(into_trace.err.find("would replace a trace"), std::string::npos);

  Outcome to_stdout = valley({"export", "--format", "perfetto", "-o", "-", run_dir().string()});
  ASSERT_TRUE(to_stdout.exited(0)) << to_stdout.describe();
  EXPECT_TRUE(check_trace_events(json::parse(to_stdout.out)).empty());
  EXPECT_EQ(to_stdout.err, "");

  exported();
  EXPECT_NE(read_file(out()), "precious");

  // Through a symlink, the file it names is replaced and the link stays.
  fs::create_symlink("trace.json", dir.path() / "link.json");
  write_file(out(), "old");
  Outcome linked = valley({"export", "--format", "perfetto", "-o",
                           (dir.path() / "link.json").string(), run_dir().string()});
  ASSERT_TRUE(linked.exited(0)) << linked.describe();
  EXPECT_TRUE(fs::is_symlink(dir.path() / "link.json"));
  EXPECT_TRUE(check_trace_events(json::parse(read_file(out()))).empty());
}

// Without RUN_DIR, the newest ./valley.* directory, as `valley report` picks it.
TEST_F(PerfettoExport, DefaultRunDirectoryIsTheNewest) {
  const fs::path older = dir.path() / "valley.a.1", newer = dir.path() / "valley.b.2";
  fs::create_directories(older);
  fs::create_directories(newer);
  writer(100).write(older);
  writer(200).write(newer);
  fs::last_write_time(older, fs::last_write_time(newer) - std::chrono::hours(1));
  SpawnOptions o;
  o.cwd = dir.path().string();
  Outcome r = valley({"export", "--format", "perfetto", "-o", "t.json"}, o);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(names(json::parse(read_file(dir.path() / "t.json")), "process_name"),
            (std::map<std::string, std::string>{{"200", "victim"}}));
  fs::remove_all(older);
  fs::remove_all(newer);
  Outcome none = valley({"export", "--format", "perfetto", "-o", "t.json"}, o);
  EXPECT_TRUE(none.exited(2)) << none.describe();
  EXPECT_EQ(none.err.rfind("valley: error: export: no run directory given", 0), 0u) << none.err;
}

TEST_F(PerfettoExport, BadArgumentsExitTwo) {
  fs::create_directories(run_dir());
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"-o", "x.json"},
           {"--format", "svg", "-o", "x.json"},
           {"--format", "perfetto"},
           {"--format", "perfetto", "-o", "x.json", "--events"},
           {"--format", "perfetto", "-o", "x.json", "--from", "-1"},
           {"--format", "perfetto", "-o", "x.json", "--from", "2", "--to", "1"},
           {"--format", "perfetto", "-o", "x.json", "--pid", "12x"},
           {"--format", "perfetto", "-o", "x.json", "--bogus"}}) {
    std::vector<std::string> argv{"export"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(run_dir().string());
    Outcome r = valley(argv);
    EXPECT_TRUE(r.exited(2)) << r.describe();
    EXPECT_EQ(r.err.rfind("valley: error: export: ", 0), 0u) << r.err;
    EXPECT_FALSE(fs::exists("x.json"));
  }
}

#ifdef VALLEY_REAL_SHIM
/// `valley run` of a program under the real preload in `dir`, then its JSON dump's totals.
json trace_program(const fs::path& dir, const std::vector<std::string>& cmd,
                   std::vector<std::string> run_opts = {}) {
  std::vector<std::string> argv{VALLEY_BIN, "run", "--dir", (dir / "run").string()};
  argv.insert(argv.end(), run_opts.begin(), run_opts.end());
  argv.push_back("--");
  argv.insert(argv.end(), cmd.begin(), cmd.end());
  SpawnOptions o;
  o.env.push_back(std::string("VALLEY_SHIM=") + VALLEY_REAL_SHIM);
  o.cwd = dir.string();
  Outcome r = run(argv, o);
  EXPECT_TRUE(r.exited(0)) << r.describe();
  Outcome d = run({VALLEY_BIN, "dump", "--json", "--no-events", (dir / "run").string()});
  EXPECT_TRUE(d.exited(0)) << d.describe();
  return json::parse(d.out);
}

/// Slices and instants of a document, and the program calls they stand for.
std::pair<uint64_t, uint64_t> calls_of(const json& doc) {
  uint64_t records = 0, calls = 0;
  for (const json& e : doc["traceEvents"])
    if (e["ph"] == "X" || e["ph"] == "i") {
      ++records;
      calls += e["args"].value("calls", 1);
    }
  return {records, calls};
}

// The README's demo: every recorded event is a slice, named and placed as the dump says.
TEST_F(PerfettoExport, DemoExportsEveryEvent) {
  json dump = trace_program(dir.path(), {VALLEY_DEMO});
  json doc = exported();
  uint64_t events = 0, processes = 0;
  for (const json& p : dump["processes"]) {
    events += p["events_total"].get<uint64_t>();
    ++processes;
    EXPECT_EQ(names(doc, "process_name")[p["pid"].dump()], "valley_demo");
  }
  EXPECT_EQ(calls_of(doc).first, events);
  EXPECT_EQ(of_phase(doc, "i").size(), 0u) << "a real trace has no overlapping calls";
  bool emit_row = false;
  for (const json& x : of_phase(doc, "X"))
    emit_row =
        emit_row || (x["args"].value("function", "") == "emit_row" && x["name"] == "write file" &&
                     x["args"]["source"].get<std::string>().rfind("report.c:", 0) == 0);
  EXPECT_TRUE(emit_row) << "no slice names the demo's emit_row at report.c";
  EXPECT_GE(processes, 2u);
}

// Threads get tracks of their own; with the coalescer, runs and flushes keep every call.
TEST_F(PerfettoExport, ThreadsAndCoalescedRuns) {
  json dump = trace_program(dir.path(), {VALLEY_THREADS_VICTIM}, {"--coalesce"});
  json doc = exported();
  uint64_t records = 0, calls = 0;
  for (const json& p : dump["processes"]) {
    records += p["events_total"].get<uint64_t>();
    calls += p["event_calls_total"].get<uint64_t>();
  }
  const auto [slices, slice_calls] = calls_of(doc);
  EXPECT_EQ(slices, records);
  EXPECT_EQ(slice_calls, calls);
  uint64_t writes = 0, absorbed = 0, flushes = 0;
  std::set<uint64_t> writer_threads;
  for (const json& x : of_phase(doc, "X")) {
    if (x["name"] == "write file" || x["name"] == "write file (absorbed)") {
      writes += x["args"].value("calls", 1);
      absorbed += x["name"] == "write file (absorbed)";
      writer_threads.insert(x["tid"].get<uint64_t>());
    }
    if (x["name"] == "valley flush: write file") ++flushes;
  }
  EXPECT_EQ(writes, 1000u);
  EXPECT_GT(absorbed, 0u);
  EXPECT_GE(flushes, 4u) << "each of the 4 files is flushed at least once";
  EXPECT_EQ(writer_threads.size(), 4u);
}
#endif

} // namespace
