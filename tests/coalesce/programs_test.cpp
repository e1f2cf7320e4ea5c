// SPDX-License-Identifier: MIT
// Real Debian programs with coalescing on: each case runs once without valley and once with
// libvalley.so and VALLEY_COALESCE=1 on every stream kind (the e2e harness, harness.h), and
// must agree byte for byte in stdout, stderr, exit status or signal and output files. Where a
// program's write pattern is known the trace must also show the coalescer at work: the
// program's calls (all recorded, absorbed or not) against valley's own flush writes.
#include "harness.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>

namespace valley::coalesce_test {
namespace {

using namespace valley::e2e;

constexpr const char* kCoalesceEnv =
    "VALLEY_COALESCE=1 VALLEY_COALESCE_STDIO=1 VALLEY_COALESCE_KINDS=file,pipe,fifo,tcp,unix-stream";

void write_file(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

std::string lines(int n, const std::string& word) {
  std::string s;
  for (int i = 0; i < n; ++i) s += word + std::to_string((i * 7919) % 1000) + " " + std::to_string(i) + "\n";
  return s;
}

class Coalesced : public ::testing::Test {
protected:
  void SetUp() override { setenv("VALLEY_E2E_TARGET_ENV", kCoalesceEnv, 1); }
  void TearDown() override { unsetenv("VALLEY_E2E_TARGET_ENV"); }

  std::unique_ptr<Differential> run(Case c, const std::vector<std::string>& may_die = {}) {
    auto d = std::make_unique<Differential>(std::move(c));
    std::vector<std::string> diffs = d->differences();
    EXPECT_TRUE(diffs.empty()) << "runs without and with coalescing differ:" << join(diffs);
    std::vector<std::string> bad = trace_violations(*d, may_die);
    EXPECT_TRUE(bad.empty()) << "implausible trace:" << join(bad);
    return d;
  }
};

// Counter rows of write-like ops on one fd kind, split into the program's calls and valley's
// flush writes (rows of the flush site; matched by id or by a label naming "flush"), and the
// bytes of the program's calls the coalescer absorbed (from the events).
struct Split {
  uint64_t program_calls = 0, program_bytes = 0, flush_calls = 0, flush_bytes = 0;
  uint64_t absorbed_bytes = 0;
};
Split split(const json& dump, const std::string& program, const std::string& kind) {
  Split s;
  for (const json* t : traces_of(dump, program)) {
    if (!t->contains("counters")) continue;
    for (const json& row : (*t)["counters"]) {
      std::string op = row.value("op", json()).is_string() ? row["op"].get<std::string>() : "";
      if (op != "write" && op != "writev" && op != "send") continue;
      if (!row["fd_kind"].is_string() || row["fd_kind"] != kind) continue;
      uint64_t calls = row.value("calls", uint64_t{0}), bytes = row.value("bytes", uint64_t{0});
      if (is_flush_site(row["site"])) {
        s.flush_calls += calls;
        s.flush_bytes += bytes;
      } else {
        s.program_calls += calls;
        s.program_bytes += bytes;
      }
    }
    if (!t->contains("events")) continue;
    for (const json& e : (*t)["events"]) {
      const json& f = e["flags"];
      if (e["fd_kind"] == kind && std::find(f.begin(), f.end(), "coalesced") != f.end())
        s.absorbed_bytes += e["size"].get<uint64_t>() * e["calls"].get<uint64_t>();
    }
  }
  return s;
}

// ---- coreutils ----

TEST_F(Coalesced, DdByteAtATimeToFile) {
  auto d = run({.stages = {{"dd", "if=/dev/zero", "of=out", "bs=1", "count=5000", "status=noxfer"}},
                .out_files = {"out"},
                .expect_status = {"exit 0"}});
  Split s = split(d->dump(), "dd", "file");
  EXPECT_EQ(s.program_calls, 5000u) << "every call of the program is still recorded";
  // dd reads /dev/zero between its writes; that read cannot see the buffer (B-19), so every
  // write is buffered and a few flushes (size, age bound, exit) carry them all.
  EXPECT_EQ(s.absorbed_bytes, 5000u);
  EXPECT_EQ(s.flush_bytes, s.absorbed_bytes);
  EXPECT_LT(s.flush_calls, 50u);
}

TEST_F(Coalesced, DdByteAtATimeIntoPipeToCat) {
  auto d = run({.stages = {{"dd", "if=in", "bs=1", "status=none"}, {"cat"}},
                .setup = [](const fs::path& w) { write_file(w / "in", lines(300, "dd")); },
                .expect_status = {"exit 0", "exit 0"}});
  Split s = split(d->dump(), "dd", "pipe");
  EXPECT_EQ(s.program_calls, lines(300, "dd").size());
  // dd reads a regular file, which cannot see the pipe's buffer (B-19): most writes are
  // buffered (a flush at most PIPE_BUF), and cat gets every byte in order.
  EXPECT_GT(s.absorbed_bytes, s.program_bytes / 2);
  EXPECT_EQ(s.flush_bytes, s.absorbed_bytes);
  EXPECT_LT(s.flush_calls, s.absorbed_bytes / 10);
}

TEST_F(Coalesced, DdIntoDevFull) {
  run({.stages = {{"dd", "if=/dev/zero", "of=/dev/full", "bs=1", "count=10", "status=noxfer"}},
       .expect_status = {"exit 1"}});
}

TEST_F(Coalesced, CatTeeSort) {
  run({.stages = {{"cat", "in"}, {"tee", "copy"}, {"sort", "-k2,2n"}},
       .setup = [](const fs::path& w) { write_file(w / "in", lines(5000, "row")); },
       .out_files = {"copy"},
       .expect_status = {"exit 0", "exit 0", "exit 0"}});
}

TEST_F(Coalesced, SplitLines) {
  run({.stages = {{"split", "-l", "700", "in", "part_"}},
       .setup = [](const fs::path& w) { write_file(w / "in", lines(3000, "s")); },
       .out_files = {"part_aa", "part_ab", "part_ac", "part_ad", "part_ae"},
       .expect_status = {"exit 0"}});
}

TEST_F(Coalesced, YesIntoHead) {
  run({.stages = {{"yes", "abc"}, {"head", "-n", "3"}}, .expect_status = {"signal SIGPIPE", "exit 0"}},
      {"yes"});
}

TEST_F(Coalesced, GzipRoundTrip) {
  run({.stages = {{"gzip", "-c", "-n", "in"}, {"gzip", "-d", "-c"}, {"sha256sum"}},
       .setup = [](const fs::path& w) { write_file(w / "in", lines(20000, "gz")); },
       .expect_status = {"exit 0", "exit 0", "exit 0"}});
}

TEST_F(Coalesced, TarThroughPipe) {
  run({.stages = {{"tar", "-C", "src", "-cf", "-", "."}, {"tar", "-C", "dst", "-xf", "-"}},
       .setup = [](const fs::path& w) {
         for (int i = 0; i < 20; ++i) write_file(w / "src" / ("f" + std::to_string(i)), lines(50 * i, "t"));
         fs::create_directories(w / "dst");
       },
       .out_dirs = {"dst"},
       .expect_status = {"exit 0", "exit 0"}});
}

// ---- shell, awk, sed ----

TEST_F(Coalesced, ShellLoopIntoFileAndHead) {
  auto d = run({.stages = {{"sh", "-c",
                            "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done > f;"
                            " i=0; while :; do echo $i; i=$((i+1)); done | head -n 5"}},
                .out_files = {"f"},
                .expect_status = {"exit 0"}},
               {"sh", "dash"}); // the subshell feeding head dies of SIGPIPE
  Split s = split(d->dump(), "sh", "file");
  EXPECT_GE(s.program_calls, 300u);
  EXPECT_LT(s.flush_calls, s.program_calls);
}

TEST_F(Coalesced, AwkIntoHead) {
  run({.stages = {{"awk", "BEGIN { while (1) print \"x\" n++ }"}, {"head", "-n", "2"}},
       .expect_status = {"signal SIGPIPE", "exit 0"}},
      {"awk", "mawk"});
}

TEST_F(Coalesced, SedIntoHead) {
  run({.stages = {{"sed", "s/row/ROW/", "in"}, {"head", "-c", "100"}},
       .setup = [](const fs::path& w) { write_file(w / "in", lines(50000, "row")); }},
      {"sed"});
}

// ---- sqlite3, git ----

TEST_F(Coalesced, Sqlite) {
  std::string script = "create table t(id integer primary key, name text);\nbegin;\n";
  for (int i = 1; i <= 300; ++i) script += "insert into t(name) values('row" + std::to_string(i) + "');\n";
  script += "commit;\nselect count(*) from t;\nselect name from t where id % 50 = 0;\n";
  run({.stages = {{"sqlite3", "t.db"}},
       .stdin_file = "script.sql",
       .setup = [&](const fs::path& w) { write_file(w / "script.sql", script); },
       .out_files = {"t.db"},
       .expect_status = {"exit 0"}});
}

TEST_F(Coalesced, Git) {
  std::string script =
      "git init -q -b main . && git add . && git commit -q -m first &&"
      " echo more >> README && git commit -q -a -m second &&"
      " git log --format='%H %s %ad' --date=iso && git cat-file -p HEAD && git status --porcelain";
  run({.stages = {{"sh", "-c", script}},
       .env = {"GIT_AUTHOR_NAME=Valley Test", "GIT_AUTHOR_EMAIL=test@valley.invalid",
               "GIT_COMMITTER_NAME=Valley Test", "GIT_COMMITTER_EMAIL=test@valley.invalid",
               "GIT_AUTHOR_DATE=2001-02-03T04:05:06Z", "GIT_COMMITTER_DATE=2001-02-03T04:05:06Z",
               "GIT_CONFIG_NOSYSTEM=1", "GIT_PAGER=cat"},
       .setup = [](const fs::path& w) {
         write_file(w / "README", "hello\n");
         write_file(w / "src/a.txt", lines(100, "a"));
       },
       .expect_status = {"exit 0"}});
}

// ---- python3: files, pipes, sockets ----

// Many small os.write calls to a file, then its size seen through os.stat and an fsync.
TEST_F(Coalesced, PythonSmallWritesThenStat) {
  auto d = run({.stages = {{"python3", "-c",
                            "import os\n"
                            "fd = os.open('f', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)\n"
                            "for i in range(2000): os.write(fd, b'%d\\n' % i)\n"
                            "print(os.stat('f').st_size)\n"
                            "os.fsync(fd)\n"
                            "os.write(fd, b'end\\n')\n"
                            "print(os.fstat(fd).st_size)\n"}},
                .out_files = {"f"},
                .expect_status = {"exit 0"}});
  Split s = split(d->dump(), "python3", "file");
  EXPECT_EQ(s.program_calls, 2001u);
  EXPECT_LT(s.flush_calls, 100u);
}

// Two Python lines take turns in blocks of 100 writes through one native return address (in
// os.write): each absorbed write must stay with its own Python line, also where a write follows
// one of its own line and takes the recorder's lane (recorder.cpp, absorb_again).
TEST_F(Coalesced, PythonLinesTakingTurnsKeepTheirSites) {
  auto d = run({.stages = {{"python3", "-c",
                            "import os\n"
                            "fd = os.open('f', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)\n"
                            "def a(): os.write(fd, b'a')\n"
                            "def b(): os.write(fd, b'bb')\n"
                            "for r in range(3):\n"
                            "    for i in range(100): a()\n"
                            "    for i in range(100): b()\n"
                            "os.close(fd)\n"}},
                .out_files = {"f"},
                .expect_status = {"exit 0"}});
  std::map<int, std::pair<uint64_t, uint64_t>> by_line; // line → calls, bytes
  for (const json* t : traces_of(d->dump(), "python3"))
    for (const json& row : (*t)["counters"])
      if (row["op"] == "write" && row["fd_kind"] == "file" && !is_flush_site(row["site"]) &&
          row["line"].is_number()) {
        auto& [calls, bytes] = by_line[row["line"].get<int>()];
        calls += row["calls"].get<uint64_t>();
        bytes += row["bytes"].get<uint64_t>();
      }
  using Counts = std::map<int, std::pair<uint64_t, uint64_t>>;
  EXPECT_EQ(by_line, (Counts{{3, {300, 300}}, {4, {300, 600}}}));
  Split s = split(d->dump(), "python3", "file");
  EXPECT_EQ(s.absorbed_bytes, 900u);
  EXPECT_LT(s.flush_calls, 10u);
}

// Request/response with a child over two pipes, one request per line.
TEST_F(Coalesced, PythonPipeRequestResponse) {
  run({.stages = {{"python3", "-c",
                   "import os, sys\n"
                   "a, b = os.pipe(); c, d = os.pipe()\n"
                   "pid = os.fork()\n"
                   "if pid == 0:\n"
                   "    os.close(b); os.close(c)\n"
                   "    buf = b''\n"
                   "    while True:\n"
                   "        x = os.read(a, 100)\n"
                   "        if not x: os._exit(0)\n"
                   "        buf += x\n"
                   "        while b'\\n' in buf:\n"
                   "            line, buf = buf.split(b'\\n', 1)\n"
                   "            os.write(d, b're:'); os.write(d, line + b'\\n')\n"
                   "os.close(a); os.close(d)\n"
                   "r = os.fdopen(c, 'rb')\n"
                   "for i in range(100):\n"
                   "    os.write(b, b'q'); os.write(b, b'%d\\n' % i)\n"
                   "    sys.stdout.write(r.readline().decode())\n"
                   "os.close(b)\n"
                   "os.waitpid(pid, 0)\n"}},
       .expect_status = {"exit 0"}});
}

// Request/response over loopback TCP, server in a child process.
TEST_F(Coalesced, PythonTcpRequestResponse) {
  run({.stages = {{"python3", "-c",
                   "import os, socket\n"
                   "ls = socket.socket(); ls.bind(('127.0.0.1', 0)); ls.listen(1)\n"
                   "port = ls.getsockname()[1]\n"
                   "pid = os.fork()\n"
                   "if pid == 0:\n"
                   "    c, _ = ls.accept()\n"
                   "    while True:\n"
                   "        x = c.recv(100)\n"
                   "        if not x: os._exit(0)\n"
                   "        c.send(b'<'); c.send(x); c.send(b'>')\n"
                   "s = socket.create_connection(('127.0.0.1', port))\n"
                   "for i in range(30):\n"
                   "    s.send(b'%03d' % i)\n"
                   "    got = b''\n"
                   "    while len(got) < 5: got += s.recv(100)\n"
                   "    print(got.decode())\n"
                   "s.close(); os.waitpid(pid, 0)\n"}},
       .expect_status = {"exit 0"}});
}

// The same over a unix socketpair, with sendall of small pieces.
TEST_F(Coalesced, PythonUnixSocketpair) {
  run({.stages = {{"python3", "-c",
                   "import os, socket\n"
                   "p, q = socket.socketpair()\n"
                   "pid = os.fork()\n"
                   "if pid == 0:\n"
                   "    p.close()\n"
                   "    while True:\n"
                   "        x = q.recv(100)\n"
                   "        if not x: os._exit(0)\n"
                   "        q.sendall(x.upper())\n"
                   "q.close()\n"
                   "for w in ['alpha', 'beta', 'gamma'] * 20:\n"
                   "    p.sendall(w[:2].encode()); p.sendall(w[2:].encode())\n"
                   "    got = b''\n"
                   "    while len(got) < len(w): got += p.recv(100)\n"
                   "    print(got.decode())\n"
                   "p.close(); os.waitpid(pid, 0)\n"}},
       .expect_status = {"exit 0"}});
}

// ---- crashes and _exit after small writes ----

TEST_F(Coalesced, PythonAbort) {
  run({.stages = {{"python3", "-c", "import os\nfor i in range(50): os.write(1, b'%d ' % i)\nos.abort()\n"}},
       .expect_status = {"signal SIGABRT"}},
      {"python3"});
}
TEST_F(Coalesced, PythonSegfault) {
  run({.stages = {{"python3", "-c",
                   "import os, ctypes\nfor i in range(50): os.write(1, b'%d ' % i)\nctypes.string_at(0)\n"}},
       .expect_status = {"signal SIGSEGV"}},
      {"python3"});
}
TEST_F(Coalesced, PythonSigterm) {
  run({.stages = {{"python3", "-c",
                   "import os, signal\nfor i in range(50): os.write(1, b'%d ' % i)\n"
                   "os.kill(os.getpid(), signal.SIGTERM)\n"}},
       .expect_status = {"signal SIGTERM"}},
      {"python3"});
}
TEST_F(Coalesced, PythonUnderscoreExit) {
  run({.stages = {{"python3", "-c",
                   "import os\nfd = os.open('f', os.O_WRONLY | os.O_CREAT, 0o644)\n"
                   "for i in range(50): os.write(fd, b'%d ' % i); os.write(1, b'.')\nos._exit(3)\n"}},
       .out_files = {"f"},
       .expect_status = {"exit 3"}});
}
TEST_F(Coalesced, ShellKillsItself) {
  run({.stages = {{"sh", "-c", "i=0; while [ $i -lt 20 ]; do echo $i; i=$((i+1)); done; kill -TERM $$"}},
       .expect_status = {"signal SIGTERM"}},
      {"sh", "dash"});
}

} // namespace
} // namespace valley::coalesce_test
