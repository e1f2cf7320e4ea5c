// SPDX-License-Identifier: MIT
// Names in `valley report` on real Debian programs (issue 11): the library function that made
// a call splits sites that one program frame would merge (sqlite3's reads, writes and
// /dev/urandom read; curl's sends and recvs), programs keep the name they were started as
// (python3 is a symlink to python3.11), and modules without symbols are named once with the
// package whose debug symbols would name their frames. Debian's binaries are stripped, so
// where a machine has their debug symbols installed the frames are named instead: the checks
// accept either, never a frame without a name and without a hint.
#include "harness.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

namespace valley::e2e {
namespace {

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

// `valley report --format json` of the traced run.
json report(const Differential& d) {
  RunResult r =
      run_pipeline({{VALLEY_BIN, "report", "--format", "json", (d.root() / "trace").string()}},
                   d.root(), "", base_environment(d.root() / "home"), {});
  EXPECT_EQ(describe_status(r.stages[0].status), "exit 0") << r.stages[0].err;
  json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out;
  return j;
}

std::string file_name(const std::string& path) { return fs::path(path).filename().string(); }

// Syncs, copies, open, close and unlink are sites too; these tests are about the data calls.
bool moves_data(const json& site) {
  static const std::set<std::string> other{"fsync", "fdatasync", "sync_file_range", "msync",
                                           "sendfile", "splice", "tee", "copy_file_range",
                                           "open", "close", "unlink"};
  return !other.count(site["op"].get<std::string>());
}

// The report's data sites whose own frame (the return address of the call) is in `module`.
std::vector<const json*> sites_in(const json& rep, const std::string& module) {
  std::vector<const json*> out;
  for (const json& s : rep["sites"])
    if (s["frame"]["module"].is_string() && file_name(s["frame"]["module"]) == module &&
        moves_data(s))
      out.push_back(&s);
  return out;
}

// Every frame of `module` shown without a function must be explained once, in
// unnamed_modules, with the package dpkg names for it.
void expect_named_or_hinted(const json& rep, const std::string& module,
                            const std::string& package) {
  bool unnamed = false;
  for (const json& s : rep["sites"])
    for (const char* which : {"frame", "location"})
      if (s[which]["module"].is_string() && file_name(s[which]["module"]) == module &&
          s[which]["function"] == "")
        unnamed = true;
  std::vector<const json*> hints;
  for (const json& u : rep["unnamed_modules"])
    if (file_name(u["path"]) == module) hints.push_back(&u);
  if (!unnamed) return;
  ASSERT_EQ(hints.size(), 1u) << module << " has frames without names and no single hint:\n"
                              << rep["unnamed_modules"].dump(1);
  const json& h = *hints[0];
  EXPECT_EQ(h["package"].get<std::string>().substr(0, package.size()), package) << h.dump();
  EXPECT_EQ(h["debug_package"], package + "-dbgsym") << h.dump();
  EXPECT_EQ(h["build_id"].get<std::string>().size(), 40u) << h.dump();
}

// S-08. Inserting rows without a transaction: libsqlite3 reads the database with pread64, writes it
// and its journal with pwrite64 (in different functions) and reads /dev/urandom once, all
// called from the same frames of the sqlite3 shell. Each op is its own site, and sites that
// only the library function tells apart do not print the same.
// Issue 11 section 4: sqlite3 inserting rows without a transaction syncs its journal per row.
// The first finding is sync-per-write on the database's syncs, with a saving from their
// measured time, and its change is to group the statements in one transaction.
TEST(SqliteSyncs, InsertsWithoutATransactionAreSyncPerWrite) {
  std::string script = "create table t(id integer primary key, name text);\n";
  for (int i = 1; i <= 100; ++i)
    script += "insert into t(name) values('row" + std::to_string(i) + "');\n";
  auto d = run_case({.stages = {{"sqlite3", "t.db"}},
                     .stdin_file = "script.sql",
                     .setup = [&](const fs::path& w) { write_file(w / "script.sql", script); },
                     .expect_status = {"exit 0"}});
  json rep = report(*d);
  ASSERT_FALSE(rep["findings"].empty()) << rep.dump(1);
  const json& f = rep["findings"][0];
  EXPECT_EQ(f["rule"], "sync-per-write") << rep["findings"].dump(1);
  EXPECT_GE(f["syscalls_before"].get<uint64_t>(), 100u) << f.dump(1);
  EXPECT_GT(f["saved_wait_ns"].get<double>() + f["saved_ns"].get<double>(), 0.0) << f.dump(1);
  EXPECT_NE(f["change"].get<std::string>().find("transaction"), std::string::npos) << f.dump(1);
}

TEST(SqliteNames, LibraryFunctionsSplitTheShellsSites) {
  std::string script = "create table t(id integer primary key, name text);\n";
  for (int i = 1; i <= 200; ++i)
    script += "insert into t(name) values('row" + std::to_string(i) + "');\n";
  script += "select count(*) from t;\n";
  auto d = run_case({.stages = {{"sqlite3", "t.db"}},
                     .stdin_file = "script.sql",
                     .setup = [&](const fs::path& w) { write_file(w / "script.sql", script); },
                     .expect_status = {"exit 0"}});
  EXPECT_EQ(d->traced().out, "200\n");
  json rep = report(*d);
  std::vector<const json*> lib = sites_in(rep, "libsqlite3.so.0");
  std::set<std::string> ops;
  std::map<std::string, std::string> op_of_text;
  for (const json* s : lib) {
    ops.insert((*s)["op"].get<std::string>());
    const std::string text = (*s)["site_text"];
    // The first frame outside the library, then the library's function or offset.
    EXPECT_NE(text.find(" via "), std::string::npos) << text;
    EXPECT_NE(text.find("libsqlite3.so.0", text.find(" via ")), std::string::npos) << text;
    EXPECT_EQ(file_name((*s)["location"]["module"]), "sqlite3") << s->dump(1);
    auto [it, fresh] = op_of_text.try_emplace(text, (*s)["op"]);
    EXPECT_TRUE(fresh) << "two sites print as " << text << ": " << it->second << " and "
                       << (*s)["op"];
  }
  EXPECT_TRUE(ops.count("pwrite64")) << rep["sites"].dump(1);
  EXPECT_TRUE(ops.count("pread64")) << rep["sites"].dump(1);
  expect_named_or_hinted(rep, "libsqlite3.so.0", "libsqlite3-0");
  expect_named_or_hinted(rep, "sqlite3", "sqlite3");
  ASSERT_EQ(rep["processes"].size(), 1u);
  EXPECT_EQ(rep["processes"][0]["program"], "sqlite3");
}

// S-08. curl fetching from Python's http.server over loopback: its sends and its recvs are made by
// different functions of libcurl from the same frame of curl, and are told apart.
TEST(CurlNames, SendsAndRecvsOfLibcurlAreTwoSites) {
  const std::string server = "import http.server, os\n"
                             "class Quiet(http.server.SimpleHTTPRequestHandler):\n"
                             "    def log_message(self, *args): pass\n"
                             "srv = http.server.HTTPServer(('127.0.0.1', 0), Quiet)\n"
                             "open('port.tmp', 'w').write(str(srv.server_address[1]))\n"
                             "os.rename('port.tmp', 'port')\n"
                             "for _ in range(3): srv.handle_request()\n";
  const std::string client =
      "python3 server.py &\n"
      "i=0; while [ ! -s port ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done\n"
      "p=$(cat port)\n"
      "curl -s -o a.bin http://127.0.0.1:$p/blob.bin -o b.bin http://127.0.0.1:$p/blob.bin "
      "-o c.bin http://127.0.0.1:$p/blob.bin\n"
      "s=$?; wait; exit $s\n";
  std::string blob(100000, 'x');
  for (size_t i = 0; i < blob.size(); ++i)
    blob[i] = static_cast<char>('a' + i * 7 % 26);
  auto d = run_case({.stages = {{"sh", "client.sh"}},
                     .setup =
                         [&](const fs::path& w) {
                           write_file(w / "server.py", server);
                           write_file(w / "client.sh", client);
                           write_file(w / "blob.bin", blob);
                         },
                     .out_files = {"a.bin", "b.bin", "c.bin"},
                     .expect_status = {"exit 0"}});
  json rep = report(*d);
  std::vector<const json*> lib = sites_in(rep, "libcurl.so.4");
  std::map<bool, std::set<std::string>> texts; // by output (send) vs input (recv)
  for (const json* s : lib) {
    const std::string op = (*s)["op"];
    EXPECT_EQ((*s)["fd_kind"], "tcp") << s->dump(1);
    texts[op.starts_with("send") || op == "write" || op == "writev"].insert((*s)["site_text"]);
  }
  ASSERT_FALSE(texts[true].empty()) << rep["sites"].dump(1);
  ASSERT_FALSE(texts[false].empty()) << rep["sites"].dump(1);
  for (const std::string& t : texts[true]) {
    EXPECT_FALSE(texts[false].count(t)) << "a send and a recv site both print as " << t;
    EXPECT_NE(t.find(" via "), std::string::npos) << t;
  }
  expect_named_or_hinted(rep, "libcurl.so.4", "libcurl4");
  expect_named_or_hinted(rep, "curl", "curl");
  std::set<std::string> programs;
  for (const json& p : rep["processes"])
    programs.insert(p["program"].get<std::string>());
  EXPECT_TRUE(programs.count("curl")) << rep["processes"].dump(1);
  EXPECT_TRUE(programs.count("python3")) << rep["processes"].dump(1);
}

// python3 is a symlink to python3.11: the process is named python3, its executable is
// python3.11. `-u` makes every print a write(2): a small-writes finding.
TEST(PythonNames, StartedAsPython3) {
  auto d = run_case({.stages = {{"python3", "-u", "-c", "for i in range(2000): print('row', i)"}},
                     .expect_status = {"exit 0"}});
  json rep = report(*d);
  ASSERT_EQ(rep["processes"].size(), 1u);
  EXPECT_EQ(rep["processes"][0]["program"], "python3");
  EXPECT_EQ(file_name(rep["processes"][0]["exe"]), "python3.11");
  ASSERT_FALSE(rep["findings"].empty()) << rep.dump(1);
  EXPECT_EQ(rep["findings"][0]["rule"], "small-writes");
  expect_named_or_hinted(rep, "python3.11", "python3.11-minimal");
}

// dd bs=1: a small-writes finding at dd's own (stripped) code, explained once.
TEST(DdNames, StrippedDdIsExplainedOnce) {
  auto d =
      run_case({.stages = {{"dd", "if=/dev/zero", "of=out", "bs=1", "count=3000", "status=none"}},
                .out_files = {"out"},
                .expect_status = {"exit 0"}});
  json rep = report(*d);
  ASSERT_FALSE(rep["findings"].empty()) << rep.dump(1);
  EXPECT_EQ(rep["findings"][0]["rule"], "small-writes");
  EXPECT_EQ(file_name(rep["findings"][0]["location"]["module"]), "dd");
  EXPECT_EQ(rep["processes"][0]["program"], "dd");
  expect_named_or_hinted(rep, "dd", "coreutils");
}

} // namespace
} // namespace valley::e2e
