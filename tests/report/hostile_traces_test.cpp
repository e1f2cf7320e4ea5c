// SPDX-License-Identifier: MIT
// `valley report` and `valley dump` on traces a hostile or broken program could leave: names
// that are not UTF-8 or carry control characters, out-of-range numbers, run records that claim
// billions of calls, and traces with a million fds. Every output stays valid, one record per
// line, and finishes.
#include "subprocess.h"
#include "trace_builder.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

using namespace valley;
using nlohmann::json;
using valley::testing::make_event;
using valley::testing::Outcome;
using valley::testing::run;
using valley::testing::TempDir;
using valley::testing::TraceBuilder;
using valley::testing::write_file;

namespace {

Outcome valley(std::vector<std::string> args, double timeout = 60) {
  args.insert(args.begin(), VALLEY_BIN);
  valley::testing::Child c(args);
  return c.wait(timeout);
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

/// The text with the report's word wrap undone (a newline and its hanging indent: one space).
std::string unwrap(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n') {
      out += text[i];
      continue;
    }
    size_t j = i + 1;
    while (j < text.size() && text[j] == ' ')
      ++j;
    if (j - i - 1 >= 3 && j < text.size() && text[j] != '-' &&
        !std::isdigit(static_cast<unsigned char>(text[j]))) {
      if (out.empty() || out.back() != ' ') out += ' ';
      i = j - 1;
    } else {
      out += '\n';
    }
  }
  return out;
}

#define EXPECT_LINE(text, line)                                                                    \
  EXPECT_TRUE(has_line(text, line)) << "no line: " << line << "\nin:\n" << text

/// A process whose site 0 makes `calls` writes of 8 bytes to fd 3 (`path`): a small-writes
/// finding. Module, exe and argv names are the caller's to choose.
TraceBuilder small_writes(const std::string& path, uint32_t calls = 200,
                          const std::string& module = "/nonexistent/bin/victim") {
  TraceBuilder b(100);
  b.ring_capacity = 1024;
  b.add_module(module, 0x555500000000, 0x555500000000, 0x555500010000).is_main = 1;
  b.add_site(0, 0x555500001234);
  CounterRow& c = b.add_counter(1, 0, Op::write, FdKind::regular);
  c.calls = calls;
  c.bytes = c.requested = 8ull * calls;
  c.ticks = 400ull * calls;
  c.size_hist[bucket_of(8)] = calls;
  c.last_file = 1;
  b.add_file(3, FdKind::regular, path);
  for (uint32_t i = 0; i < calls; ++i)
    b.drained.push_back(make_event(Op::write, 3, FdKind::regular, 8, 8, 2000 + 100 * i, 0));
  return b;
}

const std::string kFffd = "\xef\xbf\xbd"; // U+FFFD as UTF-8

// a name that is not UTF-8 made `report --format json` throw and print
// nothing. Every JSON writer replaces ill-formed bytes with U+FFFD the same way.
TEST(HostileTraces, JsonWritersReplaceInvalidUtf8AlikeAndStayValid) {
  TempDir dir;
  TraceBuilder b = small_writes("/data/caf\xe9.csv");
  std::memcpy(b.header.exe, "/usr/bin/\xff\xfeprog", 16);
  b.set_cmdline({"prog\xc3", "ok"});
  b.write(dir.path());
  write_file(dir.path() / "caf\xe9.vev", "stray"); // a problem whose file name is not UTF-8

  Outcome r = valley({"report", "--format", "json", dir.path().string()});
  ASSERT_TRUE(r.exited(0)) << r.describe();
  json rep = json::parse(r.out);
  ASSERT_EQ(rep["findings"].size(), 1u) << r.out;
  EXPECT_EQ(rep["findings"][0]["evidence"]["path"], "/data/caf" + kFffd + ".csv");
  EXPECT_EQ(rep["processes"][0]["exe"], "/usr/bin/" + kFffd + kFffd + "prog");
  ASSERT_EQ(rep["problems"].size(), 1u);
  EXPECT_EQ(rep["problems"][0]["file"], "caf" + kFffd + ".vev");

  Outcome d = valley({"dump", "--json", dir.path().string()});
  ASSERT_TRUE(d.exited(1)) << d.describe(); // the stray file is a problem
  json dump = json::parse(d.out);
  const json& p = dump["processes"][0];
  EXPECT_EQ(p["counters"][0]["path"], "/data/caf" + kFffd + ".csv");
  EXPECT_EQ(p["exe"], "/usr/bin/" + kFffd + kFffd + "prog");
  EXPECT_EQ(p["command"][0], "prog" + kFffd);
  EXPECT_EQ(dump["problems"][0]["file"], "caf" + kFffd + ".vev");

  // --compare writes JSON through the same function.
  Outcome c =
      valley({"report", "--compare", dir.path().string(), dir.path().string(), "--format", "json"});
  ASSERT_TRUE(c.exited(0)) << c.describe();
  EXPECT_NO_THROW(json::parse(c.out));
}

// names from the traced program reached the terminal raw, so it could forge
// report lines and colour codes. Text output escapes them as \xNN, as dump always did.
TEST(HostileTraces, TextOutputEscapesControlCharactersFromTheTrace) {
  TempDir dir;
  const std::string forged = "\n2. [small-writes] high forged\x1b[31m\r\xc2\x9b"
                             "2J\xe2\x80\xae";
  TraceBuilder b = small_writes("/tmp/x" + forged, 200, "/nonexistent/bin/vic\ntim");
  std::memcpy(b.header.exe, "/usr/bin/\x1b]0;title\x07", 20);
  b.set_cmdline({"/usr/bin/\x1b]0;title\x07"}); // the report names a process by its argv[0]
  b.write(dir.path());
  write_file(dir.path() / ("a\nb\x1b[2J.vev"), "stray");

  Outcome r = valley({"report", dir.path().string()});
  ASSERT_TRUE(r.exited(0)) << r.describe();
  const std::string unwrapped = unwrap(r.out);
  for (const std::string* s : {&r.out, &r.err}) {
    EXPECT_EQ(s->find('\x1b'), std::string::npos) << *s;
    EXPECT_EQ(s->find('\r'), std::string::npos) << *s;
    EXPECT_EQ(s->find("\xc2\x9b"), std::string::npos) << *s;
    EXPECT_EQ(s->find("\xe2\x80\xae"), std::string::npos) << *s;
  }
  for (const std::string& l : lines(r.out))
    EXPECT_NE(l.rfind("2. [small-writes]", 0), 0u) << r.out;
  const std::string escaped =
      "\\x0a2. [small-writes] high forged\\x1b[31m\\x0d\\xc2\\x9b2J\\xe2\\x80\\xae";
  EXPECT_NE(unwrapped.find("on file /tmp/x" + escaped + ","), std::string::npos) << unwrapped;
  EXPECT_NE(r.out.find("  vic\\x0atim+0x1234\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("100-0 (\\x1b]0;title\\x07): no coverage measured"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  - a\\x0ab\\x1b[2J.vev: file name is not"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("valley: warning: a\\x0ab\\x1b[2J.vev: file name is not"), std::string::npos)
      << r.err;

  // The config for the coalescer: comments stay comments; a name that needs escaping is
  // written escaped, and valley's own reader takes the file back.
  std::string cfg = (dir.path() / "emitted.toml").string();
  Outcome e = valley({"report", "--emit-config", cfg, dir.path().string()});
  ASSERT_TRUE(e.exited(0)) << e.describe();
  for (const std::string& l : lines(valley::testing::read_file(cfg)))
    EXPECT_TRUE(l.empty() || l[0] == '#' || l[0] == '[' || l.find(" = ") != std::string::npos) << l;
  EXPECT_NE(valley::testing::read_file(cfg).find("sites = [\"vic\\u000Atim+0x1234\"]"),
            std::string::npos)
      << valley::testing::read_file(cfg);
  Outcome back = valley({"report", "--config", cfg, dir.path().string()});
  EXPECT_TRUE(back.exited(0)) << back.describe();

  Outcome d = valley({"dump", dir.path().string()});
  ASSERT_TRUE(d.exited(1)) << d.describe();
  EXPECT_EQ(d.out.find('\x1b'), std::string::npos) << d.out;
  EXPECT_LINE(d.out, "  problem: a\\x0ab\\x1b[2J.vev: file name is not <pid>-<n>.vev; ignored");
  EXPECT_LINE(d.out, "    [1] fd 3 file /tmp/x" + escaped);
}

// R-08: -result of INT32_MIN and tick counts of 2^63 and more were undefined
// behaviour (a negation overflow, a double cast to uint64 out of range): a negative time, an
// errno of -2147483648.
TEST(HostileTraces, ExtremeNumbersAreShownAsRecorded) {
  TempDir dir;
  TraceBuilder b(7);
  b.add_module("/nonexistent/bin/victim", 0x555500000000, 0x555500000000, 0x555500010000);
  b.add_site(0, 0x555500001234);
  CounterRow& c = b.add_counter(1, 0, Op::write, FdKind::regular);
  c.calls = 1;
  c.ticks = (uint64_t{1} << 63) + 4096; // 0.5 ns per tick: 2^62 + 2048 ns, exact as a double
  EventRecord e = make_event(Op::write, 3, FdKind::regular, 8, INT32_MIN, 2000, 0);
  e.duration = UINT32_MAX;
  b.drained.push_back(e);
  b.write(dir.path());

  Outcome t = valley({"dump", dir.path().string()});
  ASSERT_TRUE(t.exited(0)) << t.describe();
  EXPECT_NE(t.out.find("-> error errno 2147483648 "), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("time 4611686018427389952ns"), std::string::npos) << t.out;

  Outcome j = valley({"dump", "--json", dir.path().string()});
  ASSERT_TRUE(j.exited(0)) << j.describe();
  json p = json::parse(j.out)["processes"][0];
  EXPECT_EQ(p["counters"][0]["time_ns"].get<uint64_t>(), (uint64_t{1} << 62) + 2048);
  EXPECT_EQ(p["events"][0]["errno"], "errno 2147483648");
  EXPECT_EQ(p["events"][0]["duration_ns"].get<uint64_t>(), 2147483648u); // (2^32 - 1) / 2, rounded

  Outcome r = valley({"report", "--format", "json", dir.path().string()});
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_DOUBLE_EQ(json::parse(r.out)["sites"][0]["time_ns"].get<double>(), 4611686018427389952.0);
}

/// A process whose site 0 wrote one byte at a time to a pipe under the coalescer, recorded as
/// one run record of `claimed` calls; its counter row says `counted`.
TraceBuilder one_run(uint32_t claimed, uint64_t counted, uint64_t span_ticks) {
  TraceBuilder b(200);
  b.add_module("/nonexistent/bin/victim", 0x555500000000, 0x555500000000, 0x555500010000).is_main =
      1;
  b.add_site(0, 0x555500001234);
  CounterRow& c = b.add_counter(1, 0, Op::write, FdKind::pipe);
  c.calls = counted;
  c.bytes = c.requested = counted;
  c.last_file = 1;
  b.add_file(3, FdKind::pipe, "pipe:[77]");
  EventRecord e = make_event(Op::write, 3, FdKind::pipe, 1, 1, 2000, 0);
  e.flags = kEventCoalesced | kEventRun;
  e.duration = claimed;
  e.offset = static_cast<int64_t>(2000 + span_ticks);
  b.drained.push_back(e);
  return b;
}

// a run record was expanded call by call: 2^32 - 1 calls took minutes per
// record. Now its work does not depend on its count; this one is consistent with its counter
// row and its time (an hour), so nothing is flagged.
TEST(HostileTraces, TheLongestRunRecordDoesNotHangTheReport) {
  TempDir dir;
  one_run(UINT32_MAX, UINT32_MAX, uint64_t{7'200'000'000'000}).write(dir.path());
  Outcome r = valley({"report", "--format", "json", dir.path().string()}, 60);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  json rep = json::parse(r.out);
  EXPECT_TRUE(rep["problems"].empty()) << rep["problems"];
  ASSERT_EQ(rep["findings"].size(), 1u) << r.out;
  EXPECT_EQ(rep["findings"][0]["evidence"]["events"].get<uint64_t>(), uint64_t{UINT32_MAX});
  EXPECT_EQ(rep["findings"][0]["coalescible"], true);
}

// A run claiming more calls than its counter row holds, or than its time span allows (one per
// nanosecond), is damage: cut to the bound and named in the problems and the blind spots.
TEST(HostileTraces, ImplausibleRunCountsAreCutAndReported) {
  TempDir dir;
  one_run(UINT32_MAX, 150, 1'000'000).write(dir.path());
  Outcome r = valley({"report", "--format", "json", dir.path().string()}, 60);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  json rep = json::parse(r.out);
  ASSERT_EQ(rep["problems"].size(), 1u) << rep["problems"];
  EXPECT_EQ(rep["problems"][0]["file"], "200-0.vev");
  EXPECT_EQ(rep["problems"][0]["message"],
            "a run record (site 0, write on fd 3) claims 4294967295 calls, but its counter row has "
            "only 150 calls left; taken as 150 (damaged record)");
  EXPECT_EQ(rep["findings"][0]["evidence"]["events"].get<uint64_t>(), 150u);

  TempDir fast;
  one_run(5000, 5000, 1000).write(fast.path()); // 5000 calls in 500 ns
  Outcome t = valley({"report", fast.path().string()}, 60);
  ASSERT_TRUE(t.exited(0)) << t.describe();
  EXPECT_NE(unwrap(t.out).find(
                "  - 200-0.vev: a run record (site 0, write on fd 3) claims 5000 calls, but "
                "its time span of 1000 ticks allows at most 501; taken as 501 (damaged record)"),
            std::string::npos)
      << t.out;
}

// A run record the shim never writes (not an absorbed write, fewer than 2 calls, ending before
// it starts) is skipped by the reader as invalid, in dump and report alike.
TEST(HostileTraces, RunRecordsTheShimCannotWriteAreInvalid) {
  TempDir dir;
  TraceBuilder b = one_run(10, 40, 1000);
  EventRecord read = make_event(Op::read, 3, FdKind::pipe, 1, 1, 2000, 0);
  read.flags = kEventCoalesced | kEventRun;
  read.duration = 10;
  read.offset = 3000;
  b.drained.push_back(read);
  EventRecord backwards = b.drained[0];
  backwards.offset = 10;
  b.drained.push_back(backwards);
  EventRecord one = b.drained[0];
  one.duration = 1;
  b.drained.push_back(one);
  b.write(dir.path());
  Outcome d = valley({"dump", "--json", dir.path().string()});
  ASSERT_TRUE(d.exited(1)) << d.describe();
  json p = json::parse(d.out)["processes"][0];
  EXPECT_EQ(p["events_invalid"], 3);
  EXPECT_EQ(p["events_total"], 1);
  ASSERT_EQ(p["problems"].size(), 3u);
  EXPECT_EQ(
      p["problems"][0]["message"],
      "record 1 at offset 0x80: a run record of 10 calls (read on pipe, result 1, flags 0x14, "
      "last at tick 3000) is not one the shim writes; event skipped");
  Outcome r = valley({"report", "--format", "json", dir.path().string()});
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(json::parse(r.out)["processes"][0]["invalid"], 3);
}

} // namespace

namespace {

// R-07, issue 13: the HTML report shows paths, program names and module names from the trace; none
// of them may open a tag or a script in the page.
TEST(HostileTraces, HtmlReportEscapesMarkupFromTheTrace) {
  TempDir dir;
  TraceBuilder b = small_writes("/data/<script>alert(1)</script>.csv", 200,
                                "/nonexistent/bin/<img src=x onerror=alert(2)>");
  b.set_cmdline({"<svg onload=alert(3)>", "x"});
  b.write(dir.path());
  Outcome r = valley({"report", "--format", "html", dir.path().string()});
  ASSERT_TRUE(r.exited(0)) << r.describe();
  size_t scripts = 0;
  for (size_t at = r.out.find("<script"); at != std::string::npos; at = r.out.find("<script", at + 1))
    ++scripts;
  EXPECT_EQ(scripts, 1u) << "only the page's own script";
  EXPECT_EQ(r.out.find("<img"), std::string::npos);
  EXPECT_EQ(r.out.find("<svg onload"), std::string::npos);
  EXPECT_NE(r.out.find("/data/&lt;script&gt;alert(1)&lt;/script&gt;.csv"), std::string::npos);
  EXPECT_NE(r.out.find("&lt;svg onload=alert(3)&gt;"), std::string::npos);
  EXPECT_NE(r.out.find("&lt;img src=x onerror=alert(2)&gt;"), std::string::npos);
}

// -o FILE holds what stdout would have, and an existing FILE is kept unless --force.
TEST(HostileTraces, ReportOutputFileIsKeptUnlessForced) {
  TempDir dir;
  small_writes("/data/out.csv").write(dir.path());
  Outcome to_stdout = valley({"report", "--format", "html", dir.path().string()});
  ASSERT_TRUE(to_stdout.exited(0)) << to_stdout.describe();
  const std::string file = (dir.path() / "report.html").string();
  Outcome first = valley({"report", "--format", "html", "-o", file, dir.path().string()});
  ASSERT_TRUE(first.exited(0)) << first.describe();
  EXPECT_EQ(first.out, "");
  EXPECT_EQ(valley::testing::read_file(file), to_stdout.out);

  write_file(file, "mine");
  Outcome again = valley({"report", "--format", "html", "-o", file, dir.path().string()});
  EXPECT_TRUE(again.exited(2)) << again.describe();
  EXPECT_NE(again.err.find("report.html exists; --force replaces it"), std::string::npos) << again.err;
  EXPECT_EQ(valley::testing::read_file(file), "mine");
  Outcome forced = valley({"report", "--format=json", "--output", file, "--force", dir.path().string()});
  ASSERT_TRUE(forced.exited(0)) << forced.describe();
  EXPECT_EQ(json::parse(valley::testing::read_file(file))["findings"].size(), 1u);
}

} // namespace
