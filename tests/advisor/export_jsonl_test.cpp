// SPDX-License-Identifier: MIT
// The built `valley export --format jsonl`: one JSON object per line, each with its type and
// schema version; fields equal to the fixture's numbers; events on request; symbolized rows of
// a real program; and the file read by jq, a query tool from Debian (export-jsonl.md).
#include "subprocess.h"
#include "trace_builder.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <sstream>

using namespace valley;
using nlohmann::json;
using valley::testing::make_event;
using valley::testing::Outcome;
using valley::testing::read_file;
using valley::testing::run;
using valley::testing::sample_trace;
using valley::testing::SpawnOptions;
using valley::testing::TempDir;
using valley::testing::TraceBuilder;
using valley::testing::write_file;
namespace fs = std::filesystem;

namespace {

class JsonlExport : public ::testing::Test {
protected:
  TempDir dir;
  fs::path out() const { return dir.path() / "run.jsonl"; }
  fs::path run_dir() const { return dir.path() / "run"; }

  /// Exports run_dir(); every line must be one JSON object with a type and schema_version 1.
  std::vector<json> exported(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{VALLEY_BIN, "export", "--format", "jsonl", "-o", out().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(run_dir().string());
    last = run(args);
    EXPECT_TRUE(last.exited(0)) << last.describe();
    std::vector<json> records;
    std::istringstream in(read_file(out()));
    for (std::string line; std::getline(in, line);) {
      json r = json::parse(line); // throws (fails the test) on anything but one JSON value
      EXPECT_TRUE(r.is_object()) << line;
      EXPECT_TRUE(r["type"].is_string()) << line;
      EXPECT_EQ(r["schema_version"], 1) << line;
      // Events leave the run out: there are millions of them, and their trace names it.
      if (r["type"] == "event")
        EXPECT_FALSE(r.contains("run")) << line;
      else
        EXPECT_EQ(r["run"], run_dir().string()) << line;
      records.push_back(std::move(r));
    }
    return records;
  }
  Outcome last;
};

std::vector<json> of_type(const std::vector<json>& records, const std::string& type) {
  std::vector<json> out;
  for (const json& r : records)
    if (r["type"] == type) out.push_back(r);
  return out;
}

TEST_F(JsonlExport, RecordsEqualTheFixture) {
  fs::create_directories(run_dir());
  sample_trace(3410).write(run_dir());
  std::vector<json> r = exported();
  ASSERT_EQ(of_type(r, "run").size(), 1u);
  EXPECT_EQ(r[0]["type"], "run") << "the run comes first";
  EXPECT_EQ(r[0]["traces"], 1);
  EXPECT_EQ(r[0]["start_realtime_ns"], 1'700'000'000'000'000'000);
  EXPECT_EQ(of_type(r, "event").size(), 0u) << "events only with --events";
  EXPECT_EQ(of_type(r, "problem").size(), 0u);

  std::vector<json> p = of_type(r, "process");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0]["trace"], "3410-0");
  EXPECT_EQ(p[0]["pid"], 3410);
  EXPECT_EQ(p[0]["program"], "victim");
  EXPECT_EQ(p[0]["command"], json({"victim", "--flag", "two words"}));
  EXPECT_EQ(p[0]["state"], "finished");
  EXPECT_EQ(p[0]["duration_ns"], 1'000'000);
  EXPECT_EQ(p[0]["ns_per_tick"], 0.5);
  EXPECT_EQ(p[0]["events_late"], 2);
  EXPECT_EQ(p[0]["parent_pid"], nullptr);

  std::vector<json> c = of_type(r, "counter");
  ASSERT_EQ(c.size(), 3u);
  std::map<int, json> by_row;
  for (const json& row : c)
    by_row[row["row"]] = row;
  const json& w = by_row[3];
  EXPECT_EQ(w["catch_all"], false);
  EXPECT_EQ(w["site"], 0);
  EXPECT_EQ(w["op"], "write");
  EXPECT_EQ(w["fd_kind"], "file");
  EXPECT_EQ(w["direction"], "out");
  EXPECT_EQ(w["calls"], 100);
  EXPECT_EQ(w["bytes"], 800);
  EXPECT_EQ(w["time_in_calls_ns"], 10000);
  EXPECT_EQ(w["path"], "/tmp/out.csv");
  EXPECT_EQ(w["last_fd"], 3);
  EXPECT_EQ(w["location"], "victim+0x1234");
  EXPECT_EQ(w["shim_site"], "victim+0x1234");
  EXPECT_EQ(w["module"], "/nonexistent/bin/victim");
  EXPECT_EQ(w["module_offset"], 0x1234);
  EXPECT_EQ(w["function"], nullptr) << "the module file does not exist here";
  ASSERT_EQ(w["size_hist"].size(), 32u);
  EXPECT_EQ(w["size_hist"][bucket_of(8)], 100);
  EXPECT_EQ(w["gap_hist"][bucket_of(4000)], 99);
  const json& catch_all = by_row[0];
  EXPECT_EQ(catch_all["catch_all"], true);
  EXPECT_EQ(catch_all["site"], nullptr);
  EXPECT_EQ(catch_all["op"], nullptr);
  EXPECT_EQ(catch_all["calls"], 2);
  EXPECT_EQ(by_row[9]["location"], "victim+0x1600 via libc.so.6+0x1000")
      << "a split site is named by its caller and the library";
}

TEST_F(JsonlExport, EventsOnRequestWithTheirTimes) {
  fs::create_directories(run_dir());
  sample_trace(3410).write(run_dir());
  std::vector<json> e = of_type(exported({"--events"}), "event");
  ASSERT_EQ(e.size(), 9u); // 5 drained + 2 late + 2 committed of 3 undrained
  EXPECT_EQ(e[0]["t_ns"], 500);
  EXPECT_EQ(e[0]["realtime_ns"], 1'700'000'000'000'000'500);
  EXPECT_EQ(e[0]["duration_ns"], 100);
  EXPECT_EQ(e[0]["op"], "write");
  EXPECT_EQ(e[0]["path"], "/tmp/out.csv");
  EXPECT_EQ(e[0]["site"], 0);
  EXPECT_EQ(e[0]["errno"], nullptr);
  EXPECT_EQ(e[0]["offset"], nullptr);
  EXPECT_EQ(e[0]["flags"], json::array());
  EXPECT_EQ(e[5]["flags"], json({"late"}));
  EXPECT_EQ(e[8]["result"], -11);
  EXPECT_EQ(e[8]["errno"], "EAGAIN");
  EXPECT_EQ(e[8]["flags"], json({"ring"}));
  EXPECT_EQ(e[8]["path"], "pipe:[1234]");
  EXPECT_EQ(e[8]["site"], 5);

  e = of_type(exported({"--events", "--from", "0.0000008", "--to", "0.0000016"}), "event");
  ASSERT_EQ(e.size(), 4u); // the late writes at 1.0 and 1.05 µs, the reads at 1.5 and 1.6 µs
  EXPECT_EQ(e[0]["t_ns"], 1000);
  EXPECT_EQ(e[3]["t_ns"], 1600);
}

TEST_F(JsonlExport, HostileNamesStayOneValidLine) {
  fs::create_directories(run_dir());
  TraceBuilder b = sample_trace(3410);
  b.set_cmdline({"a\nb\xff", "\x1b[2J"});
  b.files[0].path[3] = '\n';
  b.write(run_dir());
  write_file(run_dir() / "77-0.vseg", "junk");
  std::vector<json> r = exported({"--events"});
  const std::vector<json> p = of_type(r, "process");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0]["trace"], "77-0");
  EXPECT_EQ(p[0]["readable"], false);
  EXPECT_EQ(p[1]["command"], json({"a\nb\xef\xbf\xbd", "\x1b[2J"}));
  EXPECT_EQ(of_type(r, "event").size(), 9u);
  EXPECT_GE(of_type(r, "problem").size(), 1u);
  EXPECT_NE(last.err.find("valley: warning: 77-0.vseg: "), std::string::npos) << last.err;
}

#ifdef VALLEY_REAL_SHIM
TEST_F(JsonlExport, RealProgramRowsAreSymbolized) {
  SpawnOptions o;
  o.env.push_back(std::string("VALLEY_SHIM=") + VALLEY_REAL_SHIM);
  o.cwd = dir.path().string();
  Outcome r = run({VALLEY_BIN, "run", "--dir", run_dir().string(), "--", VALLEY_DEMO}, o);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  std::vector<json> records = exported({"--events"});
  bool emit_row = false;
  uint64_t counted = 0;
  for (const json& c : of_type(records, "counter")) {
    counted += c["calls"].get<uint64_t>();
    if (c["function"] == "emit_row" && c["op"] == "write") {
      emit_row = true;
      EXPECT_TRUE(c["file"].get<std::string>().ends_with("report.c")) << c;
      EXPECT_GT(c["line"], 0);
      EXPECT_EQ(c["build_id"].get<std::string>().size(), 40u) << c;
    }
  }
  EXPECT_TRUE(emit_row);
  EXPECT_EQ(of_type(records, "event").size(), counted) << "one event per call, no coalescer";
}
#endif

#ifdef VALLEY_JQ
// jq (Debian's jq) reads the file as JSON Lines and answers queries over it, as a query
// engine would: counts per type and a sum over the counter rows.
TEST_F(JsonlExport, JqReadsIt) {
  fs::create_directories(run_dir());
  sample_trace(3410).write(run_dir());
  exported({"--events"});
  Outcome types =
      run({VALLEY_JQ, "-r", "-s", "group_by(.type) | map(\"\\(.[0].type) \\(length)\") | .[]",
           out().string()});
  ASSERT_TRUE(types.exited(0)) << types.describe();
  EXPECT_EQ(types.out, "counter 3\nevent 9\nprocess 1\nrun 1\n");
  Outcome calls =
      run({VALLEY_JQ, "-s", "map(select(.type == \"counter\") | .calls) | add", out().string()});
  ASSERT_TRUE(calls.exited(0)) << calls.describe();
  EXPECT_EQ(calls.out, "109\n");
}
#endif

} // namespace
