// SPDX-License-Identifier: MIT
// Python call sites (issue 14): victims in tests/e2e/python make small writes at lines marked
// "# site: NAME"; the trace must name each Python function and file:line exactly, and split
// what one native return address in python3.11 serves into one site per Python call path.
#include "harness.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace valley::e2e {
namespace {

const fs::path kVictims = VALLEY_PY_VICTIMS;

json report(const Differential& d, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv{VALLEY_BIN, "report", "--format", "json"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back((d.root() / "trace").string());
  RunResult r = run_pipeline({argv}, d.root(), "", base_environment(d.root() / "home"), {});
  EXPECT_EQ(describe_status(r.stages[0].status), "exit 0") << r.stages[0].err;
  json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out;
  return j;
}

// The line of "# site: NAME" in a victim: the ground truth the trace must match.
int marked_line(const std::string& script, const std::string& name) {
  std::ifstream in(kVictims / script);
  std::string text;
  for (int n = 1; std::getline(in, text); ++n)
    if (text.find("# site: " + name) != std::string::npos) return n;
  ADD_FAILURE() << "no '# site: " << name << "' in " << script;
  return -1;
}

std::string base(const json& v) {
  return v.is_string() ? fs::path(v.get<std::string>()).filename().string() : "";
}

// The dump's counter rows of one trace whose location is file:line, by op.
std::map<std::string, uint64_t> calls_at(const json& trace, const std::string& file, int line) {
  std::map<std::string, uint64_t> out;
  for (const json& c : trace["counters"])
    if (base(c["file"]) == file && c["line"] == line)
      out[c["op"].get<std::string>()] += c["calls"].get<uint64_t>();
  return out;
}

// The dump's sites whose innermost Python frame is at file:line.
std::vector<const json*> sites_at(const json& trace, const std::string& file, int line) {
  std::vector<const json*> out;
  for (const json& s : trace["sites"])
    if (!s["python"].empty() && base(s["python"][0]["file"]) == file &&
        s["python"][0]["line"] == line)
      out.push_back(&s);
  return out;
}

Case python_case(const std::string& script, std::vector<std::string> args = {}) {
  Argv argv{"python3", (kVictims / script).string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return Case{.stages = {argv}, .expect_status = {"exit 0"}};
}

const json& only_trace(const Differential& d) {
  const json& t = traces(d.dump());
  EXPECT_EQ(t.size(), 1u);
  return t[0];
}

TEST(PythonSites, PrintFlushInALoopIsOneSiteAtItsLine) {
  auto d = run_case(python_case("print_flush.py", {"500"}));
  const json& t = only_trace(*d);
  EXPECT_EQ(t["python"]["state"], "active") << t["python"].dump();
  const int line = marked_line("print_flush.py", "print");
  EXPECT_EQ(calls_at(t, "print_flush.py", line)["write"], 500u);
  // CPython 3.11 specializes a call after a few runs, and the specialized form runs at the
  // PRECALL before the CALL: a line can be two instruction sites, never more, all named alike.
  auto sites = sites_at(t, "print_flush.py", line);
  ASSERT_GE(sites.size(), 1u);
  ASSERT_LE(sites.size(), 2u);
  const json& py = (*sites[0])["python"];
  for (const json* s : sites)
    EXPECT_EQ((*s)["python"][0]["function"], "emit");
  EXPECT_EQ(py[0]["function"], "emit");
  EXPECT_EQ(py[0]["first_line"], line - 2) << "def emit is two lines above";
  EXPECT_EQ(py[1]["function"], "<module>");
  EXPECT_EQ(py[1]["line"], line + 3);
  // The report names it: a small-writes finding at emit, Python's idiom.
  json rep = report(*d);
  ASSERT_FALSE(rep["findings"].empty()) << rep.dump(1);
  const json& f = rep["findings"][0];
  EXPECT_EQ(f["rule"], "small-writes");
  EXPECT_EQ(f["location"]["function"], "emit");
  EXPECT_EQ(base(f["location"]["file"]), "print_flush.py");
  EXPECT_EQ(f["location"]["line"], line);
  EXPECT_EQ(f["site_text"], "emit at print_flush.py:" + std::to_string(line) + " (python)");
  EXPECT_EQ(f["language"], "Python");
  ASSERT_FALSE(f["stacks"].empty());
  EXPECT_EQ(f["stacks"][0]["frames"][0]["python"], true);
  EXPECT_EQ(f["stacks"][0]["frames"][0]["function"], "emit");
  // --site names a Python site by its Python function or file:line, as the report prints it.
  for (const std::string& spec : {std::string("emit"), "print_flush.py:" + std::to_string(line)}) {
    json only = report(*d, {"--site", spec});
    ASSERT_EQ(only["findings"].size(), 1u) << spec << "\n" << only.dump(1);
    EXPECT_EQ(only["findings"][0]["site_text"], f["site_text"]) << spec;
  }
  EXPECT_TRUE(report(*d, {"--site", "no_such_function"})["findings"].empty());
}

TEST(PythonSites, HelperCalledFromTwoPlacesIsTwoSites) {
  auto d = run_case(python_case("two_callers.py"));
  const json& t = only_trace(*d);
  const int put = marked_line("two_callers.py", "put");
  EXPECT_EQ(calls_at(t, "two_callers.py", put)["write"], 600u);
  // Each caller's line is its own site (or two: see the print test), each named put.
  auto sites = sites_at(t, "two_callers.py", put);
  ASSERT_GE(sites.size(), 2u);
  std::map<std::string, std::set<int>> callers;
  for (const json* s : sites) {
    EXPECT_EQ((*s)["python"][0]["function"], "put");
    callers[(*s)["python"][1]["function"].get<std::string>()].insert(
        (*s)["python"][1]["line"].get<int>());
  }
  EXPECT_EQ(callers.size(), 2u);
  EXPECT_EQ(callers["header"], std::set<int>{marked_line("two_callers.py", "from-header")});
  EXPECT_EQ(callers["body"], std::set<int>{marked_line("two_callers.py", "from-body")});
  // The report keeps the paths apart too: 300 writes of 1 byte and 300 of 2, both at put.
  json rep = report(*d);
  std::map<uint64_t, uint64_t> calls_by_bytes;
  for (const json& s : rep["sites"])
    if (s["location"]["function"] == "put" && s["location"]["line"] == put)
      calls_by_bytes[s["bytes"].get<uint64_t>()] += s["calls"].get<uint64_t>();
  EXPECT_EQ(calls_by_bytes, (std::map<uint64_t, uint64_t>{{300, 300}, {600, 300}}));
}

TEST(PythonSites, LoggingFileHandlerNamesTheLoggingLine) {
  auto d = run_case(python_case("log_file.py"));
  const json& t = only_trace(*d);
  const int line = marked_line("log_file.py", "log");
  json rep = report(*d);
  ASSERT_FALSE(rep["findings"].empty()) << rep.dump(1);
  const json* found = nullptr;
  for (const json& f : rep["findings"])
    if (f["location"]["python"] == true && base(f["location"]["file"]) == "log_file.py") found = &f;
  ASSERT_NE(found, nullptr) << rep["findings"].dump(1);
  EXPECT_EQ((*found)["location"]["function"], "main");
  EXPECT_EQ((*found)["location"]["line"], line);
  EXPECT_EQ((*found)["evidence"]["calls"], 300u);
  // The innermost Python frame is logging's own flush, under /usr/lib/python3.11.
  const json& top = (*found)["stacks"][0]["frames"][0];
  EXPECT_EQ(top["python"], true);
  EXPECT_EQ(base(top["file"]), "__init__.py");
  (void)t;
}

TEST(PythonSites, SocketHeaderAndBodyAreTwoSites) {
  auto d = run_case(python_case("socket_client.py"));
  EXPECT_EQ(d->traced().out, "21600\n");
  const json& t = only_trace(*d);
  const int header = marked_line("socket_client.py", "header");
  const int body = marked_line("socket_client.py", "body");
  auto h = calls_at(t, "socket_client.py", header);
  auto b = calls_at(t, "socket_client.py", body);
  EXPECT_EQ(h["send"] + h["sendto"], 200u);
  EXPECT_EQ(b["send"] + b["sendto"], 200u);
  json rep = report(*d);
  const json* gather = nullptr;
  for (const json& f : rep["findings"])
    if (f["rule"] == "write-gather") gather = &f;
  ASSERT_NE(gather, nullptr) << rep["findings"].dump(1);
  EXPECT_EQ((*gather)["site_text"],
            "send_message at socket_client.py:" + std::to_string(header) + " (python)");
  ASSERT_EQ((*gather)["related"].size(), 1u);
  EXPECT_EQ((*gather)["related"][0]["line"], body);
  EXPECT_EQ((*gather)["related"][0]["python"], true);
  EXPECT_NE((*gather)["idiom"].get<std::string>().find("sock.sendmsg("), std::string::npos);
}

TEST(PythonSites, EachThreadReadsItsOwnFrames) {
  auto d = run_case(python_case("threaded_writer.py"));
  const json& t = only_trace(*d);
  const int worker = marked_line("threaded_writer.py", "worker");
  const int end = marked_line("threaded_writer.py", "main-end");
  EXPECT_EQ(calls_at(t, "threaded_writer.py", worker)["write"], 800u);
  EXPECT_EQ(calls_at(t, "threaded_writer.py", end)["write"], 1u);
  for (const json* s : sites_at(t, "threaded_writer.py", worker))
    EXPECT_EQ((*s)["python"][0]["function"], "worker");
}

// A forked child (as multiprocessing's fork workers are) has a trace of its own, with its
// Python sites named from its own frames.
TEST(PythonSites, ForkedChildNamesItsOwnLines) {
  auto d = run_case(python_case("fork_worker.py"));
  const json& all = traces(d->dump());
  ASSERT_EQ(all.size(), 2u);
  const json& parent = all[0]["origin"] == "fork" ? all[1] : all[0];
  const json& child = all[0]["origin"] == "fork" ? all[0] : all[1];
  EXPECT_EQ(child["origin"], "fork");
  EXPECT_EQ(child["python"]["state"], "active");
  const int in_child = marked_line("fork_worker.py", "child");
  const int in_parent = marked_line("fork_worker.py", "parent");
  EXPECT_EQ(calls_at(child, "fork_worker.py", in_child)["write"], 150u);
  EXPECT_EQ(calls_at(child, "fork_worker.py", in_parent)["write"], 0u);
  EXPECT_EQ(calls_at(parent, "fork_worker.py", in_parent)["write"], 120u);
  EXPECT_EQ(calls_at(parent, "fork_worker.py", in_child)["write"], 0u);
  for (const json* s : sites_at(child, "fork_worker.py", in_child))
    EXPECT_EQ((*s)["python"][0]["function"], "child_work");
}

// VALLEY_PYTHON=0: today's native-only sites, no Python frames.
TEST(PythonSites, OffKeepsNativeSites) {
  Case c = python_case("print_flush.py", {"50"});
  c.env = {"VALLEY_PYTHON=0"};
  auto d = run_case(c);
  const json& t = only_trace(*d);
  EXPECT_EQ(t["python"]["state"], "none");
  for (const json& s : t["sites"])
    EXPECT_TRUE(s["python"].empty()) << s.dump();
}

} // namespace
} // namespace valley::e2e
