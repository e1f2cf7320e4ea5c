// SPDX-License-Identifier: MIT
// Victims traced under the real preload; `valley report --format json` must name the rule,
// the function and the file:line each victim's ground-truth comment names (the "// SITE" line),
// and stay quiet on the well-batched one.
#include "subprocess.h"
#include "trace_builder.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <algorithm>
#include <fstream>
#include <set>
#include <unistd.h>

namespace fs = std::filesystem;
using valley::testing::Outcome;
using valley::testing::run;
using valley::testing::SpawnOptions;

namespace {

std::string fmt_line(const std::string& prefix, int line) { return prefix + std::to_string(line); }

class ReportE2E : public ::testing::Test {
protected:
  // Runs the victim under `valley run` and returns the JSON report.
  nlohmann::json trace_and_report(const std::string& exe, std::vector<std::string> args = {},
                                  std::vector<std::string> run_opts = {}) {
    std::vector<std::string> argv{VALLEY_BIN, "run", "--dir", (tmp_ / "run").string()};
    argv.insert(argv.end(), run_opts.begin(), run_opts.end());
    argv.push_back("--");
    argv.push_back(exe);
    argv.insert(argv.end(), args.begin(), args.end());
    SpawnOptions o;
    o.env.push_back(std::string("VALLEY_SHIM=") + VALLEY_REAL_SHIM);
    o.cwd = tmp_.string();
    Outcome r = run(argv, o);
    EXPECT_TRUE(r.exited(0)) << r.describe();
    Outcome rep = run({VALLEY_BIN, "report", "--format", "json", (tmp_ / "run").string()});
    EXPECT_TRUE(rep.exited(0)) << rep.describe();
    return nlohmann::json::parse(rep.out);
  }
  static std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static std::string victim(const std::string& name) {
    return std::string(VALLEY_VICTIM_DIR) + "/valley_report_victim_" + name;
  }
  // The line marked "// SITE" in a victim's source.
  static int site_line(const std::string& name, const std::string& ext = ".c") {
    std::ifstream in(std::string(VALLEY_VICTIM_SOURCES) + "/" + name + ext);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
      if (line.find("// SITE") != std::string::npos) return n;
    return -1;
  }
  static const nlohmann::json* finding(const nlohmann::json& rep, const std::string& rule) {
    for (const auto& f : rep["findings"])
      if (f["rule"] == rule) return &f;
    return nullptr;
  }
  void expect_top(const nlohmann::json& rep, const std::string& rule, const std::string& function,
                  const std::string& source) {
    ASSERT_FALSE(rep["findings"].empty()) << rep.dump(1);
    const nlohmann::json& f = rep["findings"][0];
    EXPECT_EQ(f["rule"], rule) << rep.dump(1);
    EXPECT_EQ(f["location"]["function"], function);
    EXPECT_EQ(fs::path(f["location"]["file"].get<std::string>()).filename(), source + ".c");
    EXPECT_EQ(f["location"]["line"], site_line(source));
  }
  valley::testing::TempDir dir_;
  const fs::path& tmp_ = dir_.path();
};

} // namespace

TEST_F(ReportE2E, SmallWrites) {
  nlohmann::json rep = trace_and_report(victim("small_writes"), {"out.log"});
  expect_top(rep, "small-writes", "log_line", "small_writes");
  EXPECT_EQ(rep["schema_version"], 2);
  const auto& f = rep["findings"][0];
  EXPECT_EQ(f["evidence"]["calls"], 5000);
  EXPECT_EQ(f["evidence"]["size_median"], 12);
  // 5000 x 12 B = 60000 B; a 4 KiB buffer holds 341 writes: ceil(5000 / 341) = 15 syscalls.
  EXPECT_EQ(f["replay"][0]["buffer_size"], 4096);
  EXPECT_DOUBLE_EQ(f["replay"][0]["syscalls_after"].get<double>(), 15.0);
}

TEST_F(ReportE2E, HeaderThenBodyBeforeRead) {
  nlohmann::json rep = trace_and_report(victim("header_body"));
  expect_top(rep, "write-gather", "send_request", "header_body");
  const auto& f = rep["findings"][0];
  EXPECT_EQ(f["syscalls_before"], 1000);
  EXPECT_DOUBLE_EQ(f["syscalls_after"].get<double>(), 500);
  ASSERT_EQ(f["related"].size(), 1u);
  EXPECT_EQ(f["related"][0]["line"], site_line("header_body") + 1);
  EXPECT_EQ(finding(rep, "small-writes"), nullptr) << "must not advise buffering across the recv";
}

TEST_F(ReportE2E, ByteAtATimeReads) {
  nlohmann::json rep = trace_and_report(victim("byte_reads"), {"in.txt"});
  expect_top(rep, "small-reads", "count_lines", "byte_reads");
}

TEST_F(ReportE2E, SequentialSmallPreads) {
  nlohmann::json rep = trace_and_report(victim("seq_pread"), {"data.bin"});
  expect_top(rep, "sequential-pread", "scan_records", "seq_pread");
}

TEST_F(ReportE2E, UdpDatagrams) {
  nlohmann::json rep = trace_and_report(victim("udp"));
  expect_top(rep, "datagram-batch", "send_metrics", "udp");
  EXPECT_FALSE(rep["findings"][0]["coalescible"].get<bool>());
}

TEST_F(ReportE2E, ForkedWorkersAreOneFinding) {
  nlohmann::json rep = trace_and_report(victim("workers"));
  expect_top(rep, "small-writes", "worker_write", "workers");
  EXPECT_EQ(rep["findings"][0]["evidence"]["processes"], 4);
  EXPECT_EQ(rep["findings"][0]["evidence"]["calls"], 4000);
  EXPECT_EQ(rep["findings"].size(), 1u) << rep.dump(1);
}

TEST_F(ReportE2E, WellBatchedProgramIsQuiet) {
  nlohmann::json rep = trace_and_report(victim("batched"), {"big.bin"});
  EXPECT_TRUE(rep["findings"].empty()) << rep.dump(1);
  EXPECT_FALSE(rep["blind_spots"].empty());
}

TEST_F(ReportE2E, DemoHasItsThreeHabits) {
  nlohmann::json rep = trace_and_report(VALLEY_DEMO, {"report.csv"});
  std::set<std::pair<std::string, std::string>> got;
  for (const auto& f : rep["findings"]) got.insert({f["rule"].get<std::string>(), f["location"]["function"].get<std::string>()});
  EXPECT_TRUE(got.count({"small-reads", "read_config"})) << rep.dump(1);
  EXPECT_TRUE(got.count({"small-writes", "emit_row"})) << rep.dump(1);
  EXPECT_TRUE(got.count({"write-gather", "send_request"})) << rep.dump(1);
}

// The emitted config, given back to `valley run --config`, makes the coalescer take the
// victim's writes: program calls stay 5000, syscalls drop.
TEST_F(ReportE2E, EmittedConfigDrivesTheCoalescer) {
  trace_and_report(victim("small_writes"), {"out.log"});
  fs::path cfg = tmp_ / "valley.toml";
  Outcome rep = run({VALLEY_BIN, "report", "--emit-config", cfg.string(), (tmp_ / "run").string()});
  ASSERT_TRUE(rep.exited(0)) << rep.describe();
  fs::rename(tmp_ / "run", tmp_ / "before");
  nlohmann::json after = trace_and_report(victim("small_writes"), {"out.log"}, {"--config", cfg.string()});
  EXPECT_TRUE(after["coalesced_run"].get<bool>()) << after.dump(1);
  bool seen = false;
  for (const auto& s : after["sites"])
    if (s["location"]["function"] == "log_line") {
      seen = true;
      EXPECT_EQ(s["calls"], 5000);
      EXPECT_LT(s["syscalls"].get<uint64_t>(), 100u);
      // Why each flush happened: the buffer filled up, and the close wrote out the rest.
      uint64_t flushes = 0;
      for (const auto& [reason, n] : s["flush_reasons"].items()) flushes += n.get<uint64_t>();
      EXPECT_EQ(flushes, after["flush_writes"].get<uint64_t>()) << s.dump(1);
      EXPECT_GT(s["flush_reasons"].value("buffer full", 0u), 0u) << s.dump(1);
      EXPECT_EQ(s["flush_reasons"].value("a call on the fd", 0u), 1u) << s.dump(1);
    }
  EXPECT_TRUE(seen);
  // --compare: the same site, 5000 syscalls before, a few after; the flushes are counted.
  Outcome cmp = run({VALLEY_BIN, "report", "--format", "json", "--compare",
                     (tmp_ / "before").string(), (tmp_ / "run").string()});
  ASSERT_TRUE(cmp.exited(0)) << cmp.describe();
  nlohmann::json j = nlohmann::json::parse(cmp.out);
  bool found = false;
  for (const auto& s : j["sites"])
    if (s["location"]["function"] == "log_line") {
      found = true;
      EXPECT_EQ(s["syscalls_before"], 5000);
      EXPECT_EQ(s["calls_after"], 5000);
      // The first run's prediction for the site, next to what the second made (plus flushes).
      ASSERT_TRUE(s["syscalls_predicted"].is_number()) << s.dump(1);
      EXPECT_NEAR(s["syscalls_predicted"].get<double>(),
                  s["syscalls_after"].get<double>() + j["flush_writes_after"].get<double>(), 2.0);
      EXPECT_LT(s["syscalls_after"].get<uint64_t>(), 100u);
    }
  EXPECT_TRUE(found) << j.dump(1);
  EXPECT_GT(j["flush_writes_after"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["flush_writes_before"], 0);
  EXPECT_EQ(j["warning"], "");

  // A run of another program: the comparison says so.
  fs::rename(tmp_ / "run", tmp_ / "small");
  trace_and_report(victim("byte_reads"), {"in.txt"});
  Outcome other = run({VALLEY_BIN, "report", "--compare", (tmp_ / "before").string(),
                       (tmp_ / "run").string()});
  ASSERT_TRUE(other.exited(0)) << other.describe();
  EXPECT_NE(other.out.find("warning: the runs are of different commands"), std::string::npos)
      << other.out;
}

// Issue 12 section 3. Small writes to stdout redirected to a file: every write went through
// valley, so the emitted config turns `stdio` on for that site, and the run with it makes a
// handful of syscalls for the same bytes. When the program also wrote through stdio (a write
// valley did not see, which buffered bytes could overtake), stdio stays off and the summary
// says why.
TEST_F(ReportE2E, EmittedConfigCoversStdoutOnlyWhenEveryWriteWasSeen) {
  trace_and_report(victim("stdout_lines"), {"out.txt"});
  const fs::path cfg = tmp_ / "valley.toml";
  Outcome emit = run({VALLEY_BIN, "report", "--emit-config", cfg.string(), (tmp_ / "run").string()});
  ASSERT_TRUE(emit.exited(0)) << emit.describe();
  EXPECT_NE(emit.out.find("stdout/stderr included"), std::string::npos) << emit.out;
  EXPECT_EQ(emit.out.find("1. ["), std::string::npos) << "a summary, not the report: " << emit.out;
  const std::string text = slurp(cfg);
  EXPECT_NE(text.find("\nstdio = true"), std::string::npos) << text;
  fs::rename(tmp_ / "run", tmp_ / "before");
  nlohmann::json after =
      trace_and_report(victim("stdout_lines"), {"out2.txt"}, {"--config", cfg.string()});
  EXPECT_EQ(slurp((tmp_ / "out.txt").string()),
            slurp((tmp_ / "out2.txt").string()));
  bool seen = false;
  for (const auto& s : after["sites"])
    if (s["location"]["function"] == "put_line") {
      seen = true;
      EXPECT_EQ(s["calls"], 3000);
      EXPECT_LT(s["syscalls"].get<uint64_t>(), 30u) << s.dump(1);
    }
  EXPECT_TRUE(seen) << after.dump(1);

  // The same program with a header through stdio first.
  fs::remove_all(tmp_ / "run");
  trace_and_report(victim("stdout_lines"), {"out3.txt", "mixed"});
  const fs::path cfg2 = tmp_ / "mixed.toml";
  Outcome emit2 = run({VALLEY_BIN, "report", "--emit-config", cfg2.string(), (tmp_ / "run").string()});
  ASSERT_TRUE(emit2.exited(0)) << emit2.describe();
  EXPECT_EQ(slurp(cfg2).find("stdio = true"), std::string::npos)
      << slurp(cfg2);
  EXPECT_NE(emit2.out.find("writes to fd 1, and process"), std::string::npos) << emit2.out;
  EXPECT_NE(emit2.out.find("valley did not intercept"), std::string::npos) << emit2.out;
}

// Issue 12 section 4: a coalesced run says why calls were not buffered, with the setting that
// would change it. Writes to stdout (redirected to a file) under --coalesce without stdio.
TEST_F(ReportE2E, CoalescedRunSaysWhyCallsWereNotBuffered) {
  nlohmann::json rep = trace_and_report(victim("stdout_lines"), {"out.txt"}, {"--coalesce"});
  EXPECT_TRUE(rep["coalesced_run"].get<bool>()) << rep.dump(1);
  bool seen = false;
  for (const auto& s : rep["sites"])
    if (s["location"]["function"] == "put_line") {
      seen = true;
      EXPECT_EQ(s["syscalls"], 3000);
      EXPECT_EQ(s["not_buffered"].value("stdout/stderr or an fdopen'ed fd", 0u), 3000u) << s.dump(1);
    }
  EXPECT_TRUE(seen) << rep.dump(1);
  Outcome text = run({VALLEY_BIN, "report", (tmp_ / "run").string()});
  ASSERT_TRUE(text.exited(0)) << text.describe();
  EXPECT_NE(text.out.find("3000 of its calls made their own syscall: stdout/stderr or an "
                          "fdopen'ed fd 3000 (setting: stdio"),
            std::string::npos)
      << text.out;
}

// --emit-config never replaces a file without --force, and with it replaces the file whole.
TEST_F(ReportE2E, EmitConfigKeepsAnExistingFileUnlessForced) {
  trace_and_report(victim("small_writes"), {"out.log"});
  const fs::path cfg = tmp_ / "mine.toml";
  {
    std::ofstream f(cfg);
    f << "# my settings\n";
  }
  Outcome r = run({VALLEY_BIN, "report", "--emit-config", cfg.string(), (tmp_ / "run").string()});
  EXPECT_TRUE(r.exited(2)) << r.describe();
  EXPECT_NE(r.err.find("exists; --force replaces it"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(cfg), "# my settings\n");
  Outcome forced = run({VALLEY_BIN, "report", "--emit-config", cfg.string(), "--force",
                        (tmp_ / "run").string()});
  ASSERT_TRUE(forced.exited(0)) << forced.describe();
  EXPECT_NE(slurp(cfg).find("sites = ["), std::string::npos);
  Outcome lone = run({VALLEY_BIN, "report", "--force", (tmp_ / "run").string()});
  EXPECT_TRUE(lone.exited(2)) << lone.describe();
}

// Issue 11 section 3. A client sends header and body in two send()s on loopback TCP, then waits
// for the answer: every request but the first stalls for a delayed ACK. The stall is the first
// finding, and the wall time it predicts is within 25% of what the fix saves: the same client
// sending both with one writev(), traced the same way, and the unchanged client under the
// config `--emit-config` writes (the coalescer sends each burst as one).
TEST_F(ReportE2E, NagleStallIsFirstAndPredictsWhatTheFixSaves) {
  auto timed = [&](const std::string& dir, std::vector<std::string> args,
                   std::vector<std::string> run_opts = {}) {
    std::vector<std::string> argv{VALLEY_BIN, "run", "--dir", (tmp_ / dir).string()};
    argv.insert(argv.end(), run_opts.begin(), run_opts.end());
    argv.push_back("--");
    argv.push_back(victim("nagle"));
    argv.insert(argv.end(), args.begin(), args.end());
    SpawnOptions o;
    o.env.push_back(std::string("VALLEY_SHIM=") + VALLEY_REAL_SHIM);
    Outcome r = run(argv, o);
    EXPECT_TRUE(r.exited(0)) << r.describe();
    return std::stod(r.out) * 1e6; // the victim prints its requests' time in ms
  };
  const double stalled = timed("run", {"30"});
  const double fixed = timed("fixed", {"30", "writev"});
  Outcome rep = run({VALLEY_BIN, "report", "--format", "json", (tmp_ / "run").string()});
  ASSERT_TRUE(rep.exited(0)) << rep.describe();
  nlohmann::json j = nlohmann::json::parse(rep.out);
  ASSERT_FALSE(j["findings"].empty()) << rep.out;
  const nlohmann::json& f = j["findings"][0];
  EXPECT_EQ(f["rule"], "nagle-stall") << j["findings"].dump(1);
  EXPECT_EQ(f["location"]["function"], "send_request");
  EXPECT_EQ(f["location"]["line"], site_line("nagle"));
  ASSERT_EQ(f["related"].size(), 1u);
  EXPECT_EQ(f["related"][0]["line"], site_line("nagle") + 1);
  const double predicted = f["saved_wall_ns"].get<double>();
  const double measured = stalled - fixed;
  EXPECT_GT(measured, 29 * 30e6) << "no stall to measure: " << stalled << " ns vs " << fixed;
  EXPECT_NEAR(predicted, measured, 0.25 * measured);

  fs::path cfg = tmp_ / "nagle.toml";
  Outcome emit = run({VALLEY_BIN, "report", "--emit-config", cfg.string(), (tmp_ / "run").string()});
  ASSERT_TRUE(emit.exited(0)) << emit.describe();
  const double coalesced = timed("coalesced", {"30"}, {"--config", cfg.string()});
  EXPECT_NEAR(predicted, stalled - coalesced, 0.25 * (stalled - coalesced));
}

// Issue 11 section 2. Request/response: the first recv of every answer waits about 1 ms for the
// server. Reading ahead saves the other calls' work, and the prediction promises only that:
// never the waiting, which is most of the time inside these recvs.
TEST_F(ReportE2E, PredictedSavingNeverIncludesWaiting) {
  nlohmann::json rep = trace_and_report(victim("rr"));
  expect_top(rep, "small-reads", "read_answer", "rr");
  const nlohmann::json& f = rep["findings"][0];
  const nlohmann::json& ev = f["evidence"];
  EXPECT_EQ(ev["calls"], 3200);
  const double time = ev["time_ns"], wait = ev["wait_ns"], cost = ev["cost_ns"];
  const double saved = f["saved_ns"];
  EXPECT_GT(wait, 0.8 * 200 * 1e6) << "the server's 200 x 1 ms of thinking is waiting";
  EXPECT_LE(saved, time - wait + 1) << "more saved than the calls' work";
  const double saved_calls = 3200 - f["syscalls_after"].get<double>();
  EXPECT_DOUBLE_EQ(saved, saved_calls * cost);
  EXPECT_LT(saved, 0.05 * wait);
  EXPECT_DOUBLE_EQ(f["saved_wall_ns"].get<double>(), saved);
}

// bash's `read` builtin reads its input pipe a byte at a time so that the next command gets
// the rest: a note that says why, no "read 4 KiB at a time", no saving promised.
TEST_F(ReportE2E, BashReadOfAnInheritedPipeIsANoteWithoutReadAhead) {
  std::string lines;
  for (int i = 0; i < 3000; ++i) lines += std::to_string(i) + "\n";
  SpawnOptions o;
  o.env.push_back(std::string("VALLEY_SHIM=") + VALLEY_REAL_SHIM);
  o.cwd = tmp_.string();
  o.input = lines;
  Outcome r = run({VALLEY_BIN, "run", "--dir", (tmp_ / "run").string(), "--", "/bin/bash", "-c",
                   "n=0; while read l; do n=$((n+1)); done; echo $n"},
                  o);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out, "3000\n"); // every line reached the shell
  Outcome rep = run({VALLEY_BIN, "report", "--format", "json", (tmp_ / "run").string()});
  ASSERT_TRUE(rep.exited(0)) << rep.describe();
  const nlohmann::json j = nlohmann::json::parse(rep.out);
  const nlohmann::json* f = finding(j, "small-reads");
  ASSERT_NE(f, nullptr) << j["findings"].dump(1);
  EXPECT_EQ((*f)["severity"], "note");
  EXPECT_FALSE((*f)["promise"].get<bool>());
  EXPECT_EQ((*f)["saved_wall_ns"].get<double>(), 0.0);
  EXPECT_GE((*f)["evidence"]["calls"].get<int>(), 3000 * 2); // a byte per call, lines of 2-5 B
  const std::string change = (*f)["change"];
  EXPECT_NE(change.find("fd 0 is inherited"), std::string::npos) << change;
  EXPECT_EQ(change.find("at a time into a buffer"), std::string::npos) << change;
  EXPECT_EQ((*f)["idiom"], "");
}

TEST_F(ReportE2E, BadConfigStopsRunWithLocation) {
  fs::path cfg = tmp_ / "bad.toml";
  std::ofstream(cfg) << "[coalesce]\nenabled = yes\n";
  Outcome r = run({VALLEY_BIN, "run", "--config", cfg.string(), "--dir", (tmp_ / "r").string(), "--", "true"});
  EXPECT_TRUE(r.exited(2)) << r.describe();
  EXPECT_NE(r.err.find("bad.toml:2:"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / "r"));
  Outcome rep = run({VALLEY_BIN, "report", "--config", cfg.string(), (tmp_ / "r").string()});
  EXPECT_TRUE(rep.exited(2)) << rep.describe();
}

// A damaged trace is named; the other processes are still reported.
TEST_F(ReportE2E, TruncatedTraceIsNamedOthersStillReported) {
  trace_and_report(victim("workers"));
  std::vector<fs::path> segs;
  for (const auto& e : fs::directory_iterator(tmp_ / "run"))
    if (e.path().extension() == ".vseg") segs.push_back(e.path());
  ASSERT_GE(segs.size(), 5u);
  // The highest pid is a worker: the parent forked it.
  std::sort(segs.begin(), segs.end(), [](const fs::path& a, const fs::path& b) {
    return std::stoul(a.filename().string()) < std::stoul(b.filename().string());
  });
  fs::resize_file(segs.back(), 100);
  Outcome rep = run({VALLEY_BIN, "report", "--format", "json", (tmp_ / "run").string()});
  ASSERT_TRUE(rep.exited(0)) << rep.describe();
  nlohmann::json j = nlohmann::json::parse(rep.out);
  ASSERT_FALSE(j["problems"].empty());
  EXPECT_EQ(j["problems"][0]["file"], segs.back().filename().string());
  EXPECT_NE(rep.err.find(segs.back().filename().string()), std::string::npos);
  ASSERT_FALSE(j["findings"].empty());
  EXPECT_EQ(j["findings"][0]["evidence"]["processes"], 3);
}

// Text for a terminal: the finding, its file:line, the blind spots; no colour codes when not
// on a TTY.
TEST_F(ReportE2E, TextOutput) {
  trace_and_report(victim("small_writes"), {"out.log"});
  Outcome rep = run({VALLEY_BIN, "report", (tmp_ / "run").string()});
  ASSERT_TRUE(rep.exited(0)) << rep.describe();
  EXPECT_NE(rep.out.find("[small-writes]"), std::string::npos) << rep.out;
  EXPECT_NE(rep.out.find(fmt_line("log_line at small_writes.c:", site_line("small_writes"))),
            std::string::npos) << rep.out;
  EXPECT_NE(rep.out.find("predicted: 5000 -> "), std::string::npos) << rep.out;
  EXPECT_NE(rep.out.find("Blind spots"), std::string::npos);
  EXPECT_NE(rep.out.find("coverage complete"), std::string::npos) << rep.out;
  EXPECT_EQ(rep.out.find('\033'), std::string::npos);
  for (size_t start = 0, nl; (nl = rep.out.find('\n', start)) != std::string::npos; start = nl + 1)
    EXPECT_LE(nl - start, 100u) << rep.out.substr(start, nl - start);
}

// A trace from a newer format version is named with what is wrong; the rest is reported.
TEST_F(ReportE2E, NewerVersionTraceIsNamed) {
  trace_and_report(victim("workers"));
  fs::path seg;
  for (const auto& e : fs::directory_iterator(tmp_ / "run"))
    if (e.path().extension() == ".vseg" && (seg.empty() || e.path() > seg)) seg = e.path();
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    uint32_t v = 99;
    f.seekp(8);
    f.write(reinterpret_cast<const char*>(&v), sizeof v);
  }
  Outcome rep = run({VALLEY_BIN, "report", "--format", "json", (tmp_ / "run").string()});
  ASSERT_TRUE(rep.exited(0)) << rep.describe();
  nlohmann::json j = nlohmann::json::parse(rep.out);
  ASSERT_FALSE(j["problems"].empty());
  EXPECT_EQ(j["problems"][0]["file"], seg.filename().string());
  EXPECT_NE(j["problems"][0]["message"].get<std::string>().find("newer valley"), std::string::npos)
      << j["problems"].dump();
  EXPECT_FALSE(j["findings"].empty());
}

// A stripped executable: the finding still fires, its site is module+0xOFFSET. The same trace
// read after the file changed on disk: the build-id mismatch is flagged and no line is given.
TEST_F(ReportE2E, StrippedAndChangedExecutables) {
  fs::path exe = tmp_ / "sw";
  fs::copy_file(victim("small_writes"), exe);
  ASSERT_TRUE(run({"strip", "--strip-all", exe.string()}).exited(0));
  nlohmann::json rep = trace_and_report(exe.string(), {"out.log"});
  ASSERT_FALSE(rep["findings"].empty()) << rep.dump(1);
  const auto& loc = rep["findings"][0]["location"];
  EXPECT_EQ(rep["findings"][0]["rule"], "small-writes");
  EXPECT_EQ(loc["line"], 0);
  EXPECT_EQ(loc["text"].get<std::string>().rfind("sw+0x", 0), 0u) << loc.dump();

  fs::rename(tmp_ / "run", tmp_ / "stripped");
  fs::remove(exe);
  fs::copy_file(victim("small_writes"), exe);
  trace_and_report(exe.string(), {"out.log"});
  fs::remove(exe);
  fs::copy_file(victim("byte_reads"), exe); // another build-id at the same path
  Outcome out = run({VALLEY_BIN, "report", "--format", "json", (tmp_ / "run").string()});
  ASSERT_TRUE(out.exited(0)) << out.describe();
  nlohmann::json j = nlohmann::json::parse(out.out);
  ASSERT_FALSE(j["findings"].empty()) << j.dump(1);
  const auto& l2 = j["findings"][0]["location"];
  EXPECT_TRUE(l2["build_id_mismatch"].get<bool>()) << l2.dump();
  EXPECT_EQ(l2["line"], 0);
  EXPECT_EQ(l2["file"], "");
}

// C++ streams: the write() happens inside libstdc++; the finding names the program's function
// and line, and gives the C++ idiom.
TEST_F(ReportE2E, CppStreamsIdiom) {
  nlohmann::json rep = trace_and_report(victim("cpp_endl"), {"rows.txt"});
  ASSERT_FALSE(rep["findings"].empty()) << rep.dump(1);
  const auto& f = rep["findings"][0];
  EXPECT_EQ(f["rule"], "small-writes");
  EXPECT_EQ(f["location"]["function"].get<std::string>().rfind("emit(", 0), 0u) << f["location"].dump();
  EXPECT_EQ(f["location"]["line"], site_line("cpp_endl", ".cpp"));
  EXPECT_EQ(f["language"], "C++ streams");
  EXPECT_NE(f["idiom"].get<std::string>().find("std::endl"), std::string::npos);
  EXPECT_FALSE(f["coalescible"].get<bool>() && f["shim_sites"].empty());
}

// On a terminal (script(1) gives one) the text has colour, unless NO_COLOR is set.
TEST_F(ReportE2E, ColourOnlyOnATerminalAndNotWithNoColor) {
  if (::access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "script(1) not installed";
  trace_and_report(victim("small_writes"), {"out.log"});
  const std::string cmd = std::string(VALLEY_BIN) + " report " + (tmp_ / "run").string();
  SpawnOptions plain;
  plain.env.push_back("NO_COLOR");
  Outcome tty = run({"/usr/bin/script", "-qec", cmd, "/dev/null"}, plain);
  ASSERT_TRUE(tty.exited(0)) << tty.describe();
  EXPECT_NE(tty.out.find("\033["), std::string::npos) << tty.out;
  SpawnOptions no_colour;
  no_colour.env.push_back("NO_COLOR=1");
  Outcome off = run({"/usr/bin/script", "-qec", cmd, "/dev/null"}, no_colour);
  ASSERT_TRUE(off.exited(0)) << off.describe();
  EXPECT_NE(off.out.find("[small-writes]"), std::string::npos) << off.out;
  EXPECT_EQ(off.out.find("\033["), std::string::npos) << off.out;
}

// valley run --coalesce turns the shim's coalescer on (files by default): the report shows the
// program's calls and the few syscalls actually made.
TEST_F(ReportE2E, RunCoalesceShowsCallsVersusSyscalls) {
  nlohmann::json rep = trace_and_report(victim("small_writes"), {"out.log"}, {"--coalesce"});
  EXPECT_TRUE(rep["coalesced_run"].get<bool>()) << rep.dump(1);
  EXPECT_GT(rep["flush_writes"].get<uint64_t>(), 0u);
  for (const auto& s : rep["sites"])
    if (s["location"]["function"] == "log_line") {
      EXPECT_EQ(s["calls"], 5000);
      EXPECT_EQ(s["calls"].get<uint64_t>(), s["syscalls"].get<uint64_t>() + s["coalesced"].get<uint64_t>());
      EXPECT_LT(s["syscalls"].get<uint64_t>(), 100u);
    }
  EXPECT_EQ(std::ifstream(tmp_ / "out.log").rdbuf()->pubseekoff(0, std::ios::end), 5000 * 12);
}
