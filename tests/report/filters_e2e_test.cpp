// SPDX-License-Identifier: MIT
// Issue 13 sections 3 and 4 under the real preload: `valley report RUN_DIR...` merges runs by
// module build-id with counts that add up exactly; --pid, --command, --site, --min-saving and
// --sort narrow and order report and dump to exactly the expected processes and sites; bad
// values are usage errors (exit 2) naming the option.
#include "subprocess.h"
#include "trace_builder.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
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

std::string victim(const std::string& name) {
  return std::string(VALLEY_VICTIM_DIR) + "/valley_report_victim_" + name;
}

class Filters : public ::testing::Test {
protected:
  // `valley run --dir NAME -- argv...` in the temp dir; returns the run directory.
  std::string trace(const std::string& name, std::vector<std::string> argv) {
    std::vector<std::string> cmd{VALLEY_BIN, "run", "--dir", (tmp_ / name).string(), "--"};
    cmd.insert(cmd.end(), argv.begin(), argv.end());
    SpawnOptions o;
    o.env.push_back(std::string("VALLEY_SHIM=") + VALLEY_REAL_SHIM);
    o.cwd = tmp_.string();
    Outcome r = run(cmd, o);
    EXPECT_TRUE(r.exited(0)) << r.describe();
    return (tmp_ / name).string();
  }
  static Outcome valley(std::vector<std::string> args) {
    args.insert(args.begin(), VALLEY_BIN);
    return run(args);
  }
  // `valley report --format json ARGS...`, which must succeed.
  static json report(std::vector<std::string> args) {
    args.insert(args.begin(), {"report", "--format", "json"});
    Outcome r = valley(args);
    EXPECT_TRUE(r.exited(0)) << r.describe();
    return json::parse(r.out);
  }
  static json dump(std::vector<std::string> args) {
    args.insert(args.begin(), {"dump", "--json"});
    Outcome r = valley(args);
    EXPECT_TRUE(r.exited(0)) << r.describe();
    return json::parse(r.out);
  }
  // Site key without the "@build-id" a merged report appends -> the site.
  static std::map<std::string, json> sites_by_key(const json& rep) {
    std::map<std::string, json> out;
    for (const json& s : rep["sites"]) {
      std::string k = s["site"];
      out[k.substr(0, k.find('@'))] = s;
    }
    return out;
  }
  static std::set<std::string> functions(const json& rep) {
    std::set<std::string> out;
    for (const json& f : rep["findings"])
      out.insert(f["location"]["function"].get<std::string>());
    return out;
  }
  // Exit 2 and a message naming the option (and the value, when given).
  static void expect_usage_error(std::vector<std::string> args, const std::string& option,
                                 const std::string& value = "") {
    Outcome r = valley(args);
    EXPECT_TRUE(r.exited(2)) << r.describe();
    EXPECT_NE(r.err.find(option), std::string::npos) << r.describe();
    if (!value.empty()) {
      EXPECT_NE(r.err.find("'" + value + "'"), std::string::npos) << r.describe();
    }
    EXPECT_TRUE(r.out.empty()) << r.describe();
  }
  // The worker processes of the `workers` victim (those with worker_write calls) and its parent.
  void workers(std::string& dir, std::vector<uint32_t>& children, uint32_t& parent) {
    dir = trace("w", {victim("workers")});
    const json d = dump({"--no-events", dir});
    for (const json& p : d["processes"]) {
      bool writes = false;
      for (const json& c : p["counters"])
        writes = writes || c["function"] == "worker_write";
      if (writes)
        children.push_back(p["pid"]);
      else
        parent = p["pid"];
    }
    ASSERT_EQ(children.size(), 4u) << d.dump(1);
  }
  valley::testing::TempDir dir_;
  const fs::path& tmp_ = dir_.path();
};

// a run read twice or two builds taken for one would double or mix the counts.
TEST_F(Filters, SameProgramTwiceMergesWithExactlyTwiceTheCounts) {
  const std::string a = trace("a", {victim("small_writes"), "a.log"});
  const std::string b = trace("b", {victim("small_writes"), "b.log"});
  const json one = report({a});
  const json both = report({a, b});
  ASSERT_EQ(both["runs"].size(), 2u);
  EXPECT_EQ(both["runs"][0]["dir"], a);
  EXPECT_EQ(both["runs"][1]["dir"], b);
  EXPECT_EQ(both["runs"][0]["processes"], 1);
  EXPECT_EQ(both["runs"][1]["processes"], 1);
  EXPECT_EQ(both["processes"].size(), 2u);
  EXPECT_TRUE(both["merged_by_path"].empty()) << both["merged_by_path"]; // built with a build-id
  const auto s1 = sites_by_key(one), s2 = sites_by_key(both);
  ASSERT_EQ(s1.size(), s2.size()) << both["sites"].dump(1);
  for (const auto& [key, s] : s1) {
    ASSERT_TRUE(s2.count(key)) << key;
    EXPECT_EQ(s2.at(key)["calls"], 2 * s["calls"].get<uint64_t>()) << key;
    EXPECT_EQ(s2.at(key)["bytes"], 2 * s["bytes"].get<uint64_t>()) << key;
    EXPECT_EQ(s2.at(key)["processes"], 2) << key;
  }
  ASSERT_EQ(both["findings"].size(), 1u);
  EXPECT_EQ(both["findings"][0]["evidence"]["calls"], 10000);
  EXPECT_EQ(both["findings"][0]["syscalls_before"], 10000);
  // The text report names both runs.
  Outcome t = valley({"report", a, b});
  EXPECT_TRUE(t.exited(0)) << t.describe();
  EXPECT_NE(t.out.find("valley report: 2 runs merged"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("run 1: " + a + " (1 process(es))"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("run 2: " + b + " (1 process(es))"), std::string::npos) << t.out;
}

// Runs on two hosts can have the same pids: a copy of a run stands in for the second host.
TEST_F(Filters, SamePidInTwoRunsIsTwoProcesses) {
  const std::string a = trace("a", {victim("small_writes"), "a.log"});
  const std::string b = (tmp_ / "b").string();
  fs::copy(a, b, fs::copy_options::recursive);
  const json both = report({a, b});
  ASSERT_EQ(both["findings"].size(), 1u);
  EXPECT_EQ(both["findings"][0]["evidence"]["calls"], 10000);
  EXPECT_EQ(both["findings"][0]["evidence"]["processes"], 2);
  EXPECT_EQ(both["processes"].size(), 2u);
  EXPECT_EQ(both["processes"][0]["pid"], both["processes"][1]["pid"]);
  EXPECT_EQ(both["processes"][0]["trace"], a + "/" + both["processes"][0]["pid"].dump() + "-0");
  EXPECT_EQ(both["processes"][1]["trace"], b + "/" + both["processes"][1]["pid"].dump() + "-0");
}

TEST_F(Filters, DifferentProgramsKeepTheirSitesApart) {
  const std::string a = trace("a", {victim("small_writes"), "a.log"});
  const std::string b = trace("b", {victim("byte_reads"), "in.txt"});
  const json ra = report({a}), rb = report({b}), both = report({a, b});
  EXPECT_EQ(both["sites"].size(), ra["sites"].size() + rb["sites"].size()) << both["sites"].dump(1);
  uint64_t calls = 0, separate = 0;
  for (const json& s : both["sites"])
    calls += s["calls"].get<uint64_t>();
  for (const json* r : {&ra, &rb})
    for (const json& s : (*r)["sites"])
      separate += s["calls"].get<uint64_t>();
  EXPECT_EQ(calls, separate);
  EXPECT_EQ(functions(both), (std::set<std::string>{"log_line", "count_lines"}));
  // --command narrows a merged report to one program's processes.
  const json only = report({a, b, "--command", "valley_report_victim_byte*"});
  ASSERT_EQ(only["processes"].size(), 1u);
  EXPECT_EQ(only["processes"][0]["run"], 1);
  EXPECT_EQ(only["processes_left_out"], 1);
  EXPECT_EQ(only["sites"].size(), rb["sites"].size());
  EXPECT_EQ(functions(only), (std::set<std::string>{"count_lines"}));
}

// Two builds of one program at the same file name differ only in their build-id: their sites
// print the same but must not be merged. Without a build-id, the same path merges (and the
// report says it did).
TEST_F(Filters, SitesMergeOnlyWithinOneBuild) {
  const std::string builds = VALLEY_BUILDS;
  const std::string a = trace("a", {builds + "/bid-a/prog", "a.log"});
  const std::string a2 = trace("a2", {builds + "/bid-a/prog", "a2.log"});
  const std::string b = trace("b", {builds + "/bid-b/prog", "b.log"});
  const json one = report({a});
  const json same = report({a, a2});
  const json other = report({a, b});
  EXPECT_EQ(same["sites"].size(), one["sites"].size());
  ASSERT_EQ(other["sites"].size(), 2 * one["sites"].size()) << other["sites"].dump(1);
  for (const json& s : other["sites"]) {
    EXPECT_EQ(s["processes"], 1) << s["site"];
    const std::string k = s["site"];
    const bool in_a = k.find("@aaaa0001") != std::string::npos;
    const bool in_b = k.find("@bbbb0001") != std::string::npos;
    EXPECT_NE(in_a, in_b) << k; // each site names the build it is from
  }
  ASSERT_EQ(other["findings"].size(), 2u);
  EXPECT_EQ(other["findings"][0]["evidence"]["calls"], 5000);
  EXPECT_TRUE(other["merged_by_path"].empty());

  const std::string n = trace("n", {builds + "/no-bid/prog", "n.log"});
  const std::string n2 = trace("n2", {builds + "/no-bid/prog", "n2.log"});
  const json by_path = report({n, n2});
  EXPECT_EQ(by_path["merged_by_path"], json::array({builds + "/no-bid/prog"}));
  EXPECT_EQ(by_path["sites"].size(), one["sites"].size());
  ASSERT_EQ(by_path["findings"].size(), 1u);
  EXPECT_EQ(by_path["findings"][0]["evidence"]["calls"], 10000);
  Outcome t = valley({"report", n, n2});
  EXPECT_NE(t.out.find("merged by path and offset (no build-id): " + builds + "/no-bid/prog"),
            std::string::npos)
      << t.out;
}

TEST_F(Filters, SeveralRunsRefuseWhatNeedsOne) {
  const std::string a = trace("a", {victim("small_writes"), "a.log"});
  const std::string b = trace("b", {victim("small_writes"), "b.log"});
  expect_usage_error({"report", a, a}, "given twice");
  expect_usage_error({"report", a, b, a + "/."},
                     "given twice"); // the same directory spelled otherwise
  expect_usage_error({"report", a, b, "--emit-config", (tmp_ / "v.toml").string()},
                     "--emit-config");
  EXPECT_FALSE(fs::exists(tmp_ / "v.toml"));
  expect_usage_error({"report", "--compare", a, b, "--pid", "1"}, "--compare");
}

TEST_F(Filters, PidNarrowsReportAndDumpToExactlyThoseProcesses) {
  std::string dir;
  std::vector<uint32_t> children;
  uint32_t parent = 0;
  ASSERT_NO_FATAL_FAILURE(workers(dir, children, parent));
  const json all = report({dir});
  EXPECT_EQ(all["processes"].size(), 5u);
  EXPECT_EQ(sites_by_key(all).size(), all["sites"].size());

  const json one = report({dir, "--pid", std::to_string(children[0])});
  ASSERT_EQ(one["processes"].size(), 1u);
  EXPECT_EQ(one["processes"][0]["pid"], children[0]);
  EXPECT_EQ(one["processes_left_out"], 4);
  ASSERT_EQ(one["findings"].size(), 1u) << one.dump(1);
  EXPECT_EQ(one["findings"][0]["evidence"]["calls"], 1000);
  EXPECT_EQ(one["findings"][0]["evidence"]["processes"], 1);

  const json two =
      report({dir, "--pid", std::to_string(children[0]) + "," + std::to_string(children[1])});
  EXPECT_EQ(two["processes"].size(), 2u);
  ASSERT_EQ(two["findings"].size(), 1u);
  EXPECT_EQ(two["findings"][0]["evidence"]["calls"], 2000);

  const json par = report({dir, "--pid", std::to_string(parent)});
  EXPECT_EQ(par["processes"].size(), 1u);
  EXPECT_TRUE(par["findings"].empty()) << par["findings"].dump(1);
  for (const json& s : par["sites"])
    EXPECT_NE(s["location"]["function"], "worker_write");

  const json d = dump({"--no-events", "--pid", std::to_string(children[2]), dir});
  ASSERT_EQ(d["processes"].size(), 1u);
  EXPECT_EQ(d["processes"][0]["pid"], children[2]);
  EXPECT_EQ(d["filters"], json::array({"--pid " + std::to_string(children[2])}));

  Outcome none = valley({"report", dir, "--pid", "1"});
  EXPECT_TRUE(none.exited(1)) << none.describe();
  EXPECT_NE(none.err.find("no process of"), std::string::npos) << none.describe();
  EXPECT_TRUE(none.out.empty()) << none.describe();
  Outcome no_dump = valley({"dump", "--json", "--pid", "1", dir});
  EXPECT_TRUE(no_dump.exited(1)) << no_dump.describe();
  EXPECT_NE(no_dump.err.find("no process of"), std::string::npos) << no_dump.describe();
  EXPECT_TRUE(no_dump.out.empty()) << no_dump.describe();
}

TEST_F(Filters, CommandMatchesArgv0OrTheExecutable) {
  // argv[0] "alias" for the small_writes executable: either name selects it.
  fs::create_symlink(victim("small_writes"), tmp_ / "alias");
  const std::string dir = trace("c", {(tmp_ / "alias").string(), "c.log"});
  const std::string other = trace("o", {victim("byte_reads"), "in.txt"});
  for (const std::string g : {"alias", "al*", "valley_report_victim_small_*"}) { // NOLINT
    const json r = report({dir, other, "--command", g});
    ASSERT_EQ(r["processes"].size(), 1u) << g;
    EXPECT_EQ(r["processes"][0]["program"], "alias") << g;
    EXPECT_EQ(functions(r), (std::set<std::string>{"log_line"})) << g;
  }
  const json both = report({dir, other, "--command", "alias", "--command", "*byte_reads"});
  EXPECT_EQ(both["processes"].size(), 2u);
  Outcome none = valley({"report", dir, "--command", "*/alias"});
  EXPECT_TRUE(none.exited(1)) << none.describe();
  const json d = dump({"--no-events", "--command", "alias", dir});
  EXPECT_EQ(d["processes"].size(), 1u);
  // export: the process records of the JSON Lines export.
  Outcome e = valley({"export", "--format", "jsonl", "-o", "-", "--command", "al*", dir});
  ASSERT_TRUE(e.exited(0)) << e.describe();
  size_t processes = 0, at = 0;
  while ((at = e.out.find("\"type\":\"process\"", at)) != std::string::npos)
    ++processes, ++at;
  EXPECT_EQ(processes, 1u) << e.out.substr(0, 2000);
  Outcome e0 = valley({"export", "--format", "jsonl", "-o", "-", "--command", "other", dir});
  EXPECT_TRUE(e0.exited(1)) << e0.describe();
  EXPECT_EQ(e0.out.find("\"type\":\"process\""), std::string::npos);
}

TEST_F(Filters, SiteNarrowsToExactlyThatSite) {
  std::string dir;
  std::vector<uint32_t> children;
  uint32_t parent = 0;
  ASSERT_NO_FATAL_FAILURE(workers(dir, children, parent));
  const json all = report({dir});
  ASSERT_EQ(all["findings"].size(), 1u);
  const json& f = all["findings"][0];
  const std::string file = fs::path(f["location"]["file"].get<std::string>()).filename();
  const std::string line = std::to_string(f["location"]["line"].get<int>());
  const std::string address = f["shim_sites"][0];
  for (const std::string& spec : {std::string("worker_write"), file + ":" + line, address}) {
    const json r = report({dir, "--site", spec});
    ASSERT_EQ(r["sites"].size(), 1u) << spec << r["sites"].dump(1);
    EXPECT_EQ(r["sites"][0]["calls"], 4000) << spec;
    ASSERT_EQ(r["findings"].size(), 1u) << spec;
    EXPECT_EQ(r["findings"][0]["site"], f["site"]) << spec;
  }
  const json main_only = report({dir, "--site", "main"});
  EXPECT_EQ(main_only["sites"].size(), all["sites"].size() - 1);
  EXPECT_TRUE(main_only["findings"].empty());
  const json nothing = report({dir, "--site", "no_such_function"});
  EXPECT_TRUE(nothing["sites"].empty());
  EXPECT_TRUE(nothing["findings"].empty());

  // dump: per worker, only that site's counter row and its 1000 events.
  const json d = dump({"--site", "worker_write", dir});
  ASSERT_EQ(d["processes"].size(), 5u);
  size_t with_rows = 0;
  for (const json& p : d["processes"]) {
    if (p["counters"].empty()) {
      EXPECT_TRUE(p["events"].empty()) << p["pid"];
      EXPECT_TRUE(p["sites"].empty()) << p["pid"];
      continue;
    }
    ++with_rows;
    ASSERT_EQ(p["counters"].size(), 1u);
    EXPECT_EQ(p["counters"][0]["calls"], 1000);
    EXPECT_EQ(p["sites"].size(), 1u);
    EXPECT_EQ(p["events"].size(), 1000u);
  }
  EXPECT_EQ(with_rows, 4u);
}

TEST_F(Filters, MinSavingKeepsExactlyTheFindingsThatSaveThatMuch) {
  const std::string dir = trace("d", {VALLEY_DEMO, "report.csv"});
  const json all = report({dir});
  std::vector<double> saved;
  for (const json& f : all["findings"])
    saved.push_back(f["saved_wall_ns"]);
  ASSERT_GE(saved.size(), 3u) << all.dump(1);
  std::sort(saved.rbegin(), saved.rend());
  // A threshold between findings, in whole nanoseconds as the option takes it.
  const double t = std::floor(saved[1]);
  const size_t expected = static_cast<size_t>(
      std::count_if(saved.begin(), saved.end(), [&](double s) { return s >= t; }));
  ASSERT_LT(expected, saved.size());
  const json some = report({dir, "--min-saving", std::to_string(static_cast<uint64_t>(t)) + "ns"});
  EXPECT_EQ(some["findings"].size(), expected);
  for (const json& f : some["findings"])
    EXPECT_GE(f["saved_wall_ns"].get<double>(), t);
  EXPECT_EQ(report({dir, "--min-saving", "0"})["findings"].size(), saved.size());
  EXPECT_TRUE(report({dir, "--min-saving", "1000s"})["findings"].empty());
  EXPECT_EQ(report({dir, "--min-saving", "1000s"})["sites"].size(), all["sites"].size());
}

TEST_F(Filters, SortOrdersFindingsByCallsOrTime) {
  const std::string dir = trace("d", {VALLEY_DEMO, "report.csv"});
  const json by_saving = report({dir});
  const json by_calls = report({dir, "--sort", "calls"});
  const json by_time = report({dir, "--sort", "time"});
  ASSERT_EQ(by_calls["findings"].size(), by_saving["findings"].size());
  ASSERT_EQ(by_time["findings"].size(), by_saving["findings"].size());
  for (size_t i = 1; i < by_calls["findings"].size(); ++i) {
    EXPECT_GE(by_calls["findings"][i - 1]["evidence"]["calls"].get<uint64_t>(),
              by_calls["findings"][i]["evidence"]["calls"].get<uint64_t>());
    EXPECT_GE(by_time["findings"][i - 1]["evidence"]["time_ns"].get<double>(),
              by_time["findings"][i]["evidence"]["time_ns"].get<double>());
  }
  // read_config reads 1 byte a call: more calls than any writer (demo/report.c).
  EXPECT_EQ(by_calls["findings"][0]["location"]["function"], "read_config");
  EXPECT_EQ(functions(by_calls), functions(by_saving));
  EXPECT_EQ(functions(by_time), functions(by_saving));

  // dump: counter rows of each process by calls, most first.
  const json d = dump({"--no-events", "--sort", "calls", dir});
  for (const json& p : d["processes"]) {
    ASSERT_GE(p["counters"].size(), 2u);
    for (size_t i = 1; i < p["counters"].size(); ++i)
      EXPECT_GE(p["counters"][i - 1]["calls"].get<uint64_t>(),
                p["counters"][i]["calls"].get<uint64_t>());
  }
}

TEST_F(Filters, BadValuesAreUsageErrorsNamingTheOption) {
  const std::string dir = trace("a", {victim("small_writes"), "a.log"});
  expect_usage_error({"report", dir, "--min-saving", "5"}, "--min-saving", "5");
  expect_usage_error({"report", dir, "--min-saving", "5parsecs"}, "--min-saving", "5parsecs");
  expect_usage_error({"report", dir, "--min-saving"}, "--min-saving");
  expect_usage_error({"report", dir, "--sort", "size"}, "--sort", "size");
  expect_usage_error({"report", dir, "--pid", "abc"}, "--pid", "abc");
  expect_usage_error({"report", dir, "--site", "app.c:0"}, "--site", "app.c:0");
  expect_usage_error({"report", dir, "--command", ""}, "--command");
  expect_usage_error({"dump", "--pid", "0", dir}, "--pid", "0");
  expect_usage_error({"dump", "--site", "x+0xg", dir}, "--site", "x+0xg");
  expect_usage_error({"dump", "--sort", "saving", dir}, "--sort");
  expect_usage_error({"dump", "--min-saving", "5ms", dir}, "--min-saving");
}

TEST_F(Filters, TextDumpListsAThousandEventsUnlessTold) {
  const std::string dir = trace("a", {victim("small_writes"), "a.log"});
  Outcome r = valley({"dump", dir});
  ASSERT_TRUE(r.exited(0)) << r.err;
  size_t events = 0, at = 0;
  while ((at = r.out.find(" tid ", at)) != std::string::npos)
    ++events, ++at;
  EXPECT_EQ(events, 1000u); // of 5002
  Outcome every = valley({"dump", "--events", "all", dir});
  ASSERT_TRUE(every.exited(0)) << every.err;
  events = at = 0;
  while ((at = every.out.find(" tid ", at)) != std::string::npos)
    ++events, ++at;
  EXPECT_EQ(events, 5002u);
  EXPECT_LT(r.out.size(), 256u * 1024) << "the default text dump should stay small";
}

} // namespace
