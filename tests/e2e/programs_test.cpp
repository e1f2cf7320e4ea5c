// SPDX-License-Identifier: MIT
// Real Debian programs under libvalley.so: each case runs once without and once with the
// shim (harness.h) and must agree byte for byte in stdout, stderr, exit status or signal and
// output files; then `valley dump --json` must read the trace cleanly, with the expected
// processes and, where a program's I/O pattern is known, the exact calls.
//
// Only direct calls to write/read/… are visible: stdio inside libc is not (sort, mawk, sed
// print through it), so those cases check transparency and trace validity, not counts.
#include "harness.h"

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <set>

namespace valley::e2e {
namespace {

// ---- inputs: deterministic, generated in the work directory ----

// A small LCG: the same bytes on every run and machine.
struct Lcg {
  uint64_t s;
  uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(s >> 33);
  }
};

void write_file(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

std::string random_bytes(size_t n, uint64_t seed) {
  Lcg r{seed};
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(r.next() & 0xff);
  return s;
}

// Compressible text: words and numbers, `lines` lines.
std::string text_lines(size_t lines, uint64_t seed) {
  static const char* words[] = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"};
  Lcg r{seed};
  std::string s;
  for (size_t i = 0; i < lines; ++i) {
    s += words[r.next() % 7];
    s += std::to_string(r.next() % 1000) + " " + std::to_string(r.next() % 1000000) + "\n";
  }
  return s;
}

// ---- running a case ----

size_t trace_count(const Differential& d) { return traces(d.dump()).size(); }

// Commands of the traces, for assertion messages.
std::string trace_list(const Differential& d) {
  std::string s;
  for (const json& t : traces(d.dump())) {
    s += "\n  " + t.value("trace", std::string("?")) + " " + t.value("origin", std::string("?")) +
         " " + t.value("state", std::string("?")) + ":";
    for (const json& a : t["command"]) s += " " + a.get<std::string>();
  }
  return s;
}

// The program's events of a trace with this op (not valley's own flush writes).
std::vector<const json*> events(const json& trace, const std::string& op) {
  std::vector<const json*> out;
  if (trace.contains("events"))
    for (const json& e : trace["events"])
      if (e["op"] == op && !is_flush_event(e)) out.push_back(&e);
  return out;
}

bool same_tree(const fs::path& a, const fs::path& b) {
  RunResult r = run_pipeline({{"diff", "-r", "--no-dereference", a.string(), b.string()}},
                             a.parent_path(), "", base_environment(a.parent_path()), {});
  return describe_status(r.stages[0].status) == "exit 0";
}

// ---- coreutils: dd, cat, tee, sort, yes, false, ls ----

// The brief's exact case: one read of one byte from a chardev and one write of one byte to a
// regular file per block, nothing else through read/write.
TEST(Dd, ByteAtATimeFromZeroToFile) {
  auto d = run_case({.stages = {{"dd", "if=/dev/zero", "of=out", "bs=1", "count=5000",
                                 "status=noxfer"}},
                     .out_files = {"out"},
                     .expect_status = {"exit 0"}});
  EXPECT_EQ(fs::file_size(d->root() / "traced" / "out"), 5000u);
  ASSERT_EQ(trace_count(*d), 1u) << trace_list(*d);
  const json& dd = traces(d->dump())[0];
  Totals in = totals(dd, "read", "chardev");
  EXPECT_EQ(in.calls, 5000u);
  EXPECT_EQ(in.bytes, 5000u);
  EXPECT_EQ(in.size_bucket("1"), 5000u);
  EXPECT_EQ(in.errors, 0u);
  Totals out = totals(dd, "write", "file");
  EXPECT_EQ(out.calls, 5000u);
  EXPECT_EQ(out.bytes, 5000u);
  EXPECT_EQ(out.size_bucket("1"), 5000u);
  EXPECT_EQ(out.errors, 0u);
  // Nothing else went through read or write.
  EXPECT_EQ(totals(dd, "read").calls, 5000u);
  EXPECT_EQ(totals(dd, "write").calls, 5000u);
  EXPECT_EQ(events(dd, "write").size() + events(dd, "read").size(), 10000u);
}

// The write fails with ENOSPC: dd's message and status must be the same, and the trace must
// show the failed call with its errno.
TEST(Dd, FullDeviceFailsWithEnospc) {
  auto d = run_case({.stages = {{"dd", "if=/dev/zero", "of=/dev/full", "bs=1024", "count=4",
                                 "status=noxfer"}},
                     .expect_status = {"exit 1"}});
  EXPECT_NE(d->traced().stages[0].err.find("No space left on device"), std::string::npos)
      << d->traced().stages[0].err;
  ASSERT_EQ(trace_count(*d), 1u) << trace_list(*d);
  const json& dd = traces(d->dump())[0];
  Totals out = totals(dd, "write", "chardev");
  EXPECT_EQ(out.calls, 1u);
  EXPECT_EQ(out.errors, 1u);
  EXPECT_EQ(out.bytes, 0u);
  EXPECT_EQ(out.requested, 1024u);
  Totals in = totals(dd, "read", "chardev");
  EXPECT_EQ(in.calls, 1u);
  EXPECT_EQ(in.bytes, 1024u);
  auto writes = events(dd, "write");
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ((*writes[0])["errno"], "ENOSPC");
}

TEST(Cat, OneMebibyteFile) {
  const std::string data = random_bytes(1 << 20, 7);
  auto d = run_case({.stages = {{"cat", "big"}},
                     .setup = [&](const fs::path& w) { write_file(w / "big", data); },
                     .expect_status = {"exit 0"}});
  EXPECT_TRUE(d->traced().out == data) << "cat's output is not the file";
  ASSERT_EQ(trace_count(*d), 1u) << trace_list(*d);
  const json& cat = traces(d->dump())[0];
  Totals in = totals(cat, "read", "file");
  EXPECT_EQ(in.bytes, 1u << 20);
  EXPECT_GE(in.calls, 2u); // at least one full read and the read that finds EOF
  EXPECT_GE(in.zero_results, 1u);
  Totals out = totals(cat, "write", "pipe");
  EXPECT_EQ(out.bytes, 1u << 20);
  EXPECT_GE(out.calls, 1u);
  EXPECT_EQ(out.errors, 0u);
}

// tee copies stdin (a file) to two files and stdout. It reads with read(2) (visible, exact
// bytes) but writes through unbuffered stdio (invisible): the coverage must say the kernel
// wrote every byte three times while valley saw none of it.
TEST(Tee, FileToTwoFilesAndStdout) {
  const std::string data = text_lines(20000, 3);
  auto d = run_case({.stages = {{"tee", "copy1", "copy2"}},
                     .stdin_file = "input",
                     .setup = [&](const fs::path& w) { write_file(w / "input", data); },
                     .out_files = {"copy1", "copy2"},
                     .expect_status = {"exit 0"}});
  EXPECT_TRUE(d->traced().out == data);
  ASSERT_EQ(trace_count(*d), 1u) << trace_list(*d);
  const json& tee = traces(d->dump())[0];
  Totals in = totals(tee, "read", "file");
  EXPECT_EQ(in.bytes, data.size());
  EXPECT_GE(in.zero_results, 1u);
  const json& cov = tee["coverage"];
  EXPECT_EQ(cov["seen_rbytes"].get<uint64_t>(), data.size());
  EXPECT_GE(cov["kernel_wchar"].get<uint64_t>(), 3 * data.size());
}

// sort reads and writes through stdio, invisible to the shim; with a small buffer and two
// threads it also spills to temporary files. Output must not change; the trace must still be
// one clean process whose coverage says how much the kernel saw.
TEST(Sort, GeneratedFileWithTempFilesAndThreads) {
  const std::string data = text_lines(100000, 11);
  auto d = run_case({.stages = {{"sort", "-k2,2n", "-k1,1", "--parallel=2", "-S", "1M", "-T", ".",
                                 "gen.txt", "-o", "sorted.txt"}},
                     .setup = [&](const fs::path& w) { write_file(w / "gen.txt", data); },
                     .out_files = {"sorted.txt"},
                     .expect_status = {"exit 0"}});
  EXPECT_EQ(fs::file_size(d->root() / "traced" / "sorted.txt"), data.size());
  ASSERT_EQ(trace_count(*d), 1u) << trace_list(*d);
  const json& cov = traces(d->dump())[0]["coverage"];
  EXPECT_TRUE(cov["valid"].get<bool>());
  EXPECT_GE(cov["kernel_rchar"].get<uint64_t>(), data.size());
  EXPECT_GE(cov["kernel_wchar"].get<uint64_t>(), data.size());
}

// sort compresses its temporary files through child processes (posix_spawn of gzip, and
// gzip -d to read them back): the children's direct reads and writes must be traced, and what
// the compressors read is what the decompressors give back.
TEST(Sort, CompressProgramChildren) {
  const std::string data = text_lines(100000, 12);
  auto d = run_case({.stages = {{"sort", "-k2,2n", "-S", "1M", "-T", ".", "--compress-program=gzip",
                                 "gen.txt", "-o", "sorted.txt"}},
                     .setup = [&](const fs::path& w) { write_file(w / "gen.txt", data); },
                     .out_files = {"sorted.txt"},
                     .expect_status = {"exit 0"}});
  std::vector<const json*> compress, decompress;
  for (const json* t : traces_of(d->dump(), "gzip"))
    ((*t)["command"].size() > 1 && (*t)["command"][1] == "-d" ? decompress : compress).push_back(t);
  EXPECT_GE(compress.size(), 2u) << trace_list(*d);
  EXPECT_EQ(compress.size(), decompress.size()) << trace_list(*d);
  uint64_t packed_in = 0, unpacked_out = 0;
  for (const json* t : compress) packed_in += totals(*t, "read", "pipe").bytes;
  for (const json* t : decompress) unpacked_out += totals(*t, "write", "pipe").bytes;
  EXPECT_GT(packed_in, 0u);
  EXPECT_EQ(packed_in, unpacked_out);
  EXPECT_EQ(traces_of(d->dump(), "sort").size(), 1u + compress.size() + decompress.size())
      << "one sort image, and one per child before its exec" << trace_list(*d);
}

// yes writes with write(2) until the reader goes away: SIGPIPE, same as without valley.
TEST(Yes, SigpipeIntoHead) {
  auto d = run_case({.stages = {{"yes", "valley"}, {"head", "-5"}},
                     .expect_status = {"signal SIGPIPE", "exit 0"}},
                    /*may_die=*/{"yes"});
  EXPECT_EQ(d->traced().out, "valley\nvalley\nvalley\nvalley\nvalley\n");
  ASSERT_EQ(trace_count(*d), 2u) << trace_list(*d);
  auto yes = traces_of(d->dump(), "yes");
  ASSERT_EQ(yes.size(), 1u);
  EXPECT_GE(totals(*yes[0], "write", "pipe").calls, 1u);
  EXPECT_EQ((*yes[0])["state"], "killed-or-crashed");
}

TEST(Exit, FalseFailsQuietly) {
  auto d = run_case({.stages = {{"false"}}, .expect_status = {"exit 1"}});
  EXPECT_EQ(trace_count(*d), 1u) << trace_list(*d);
}

TEST(Exit, LsOfMissingPath) {
  auto d = run_case({.stages = {{"ls", "/nonexistent"}}, .expect_status = {"exit 2"}});
  EXPECT_EQ(d->traced().stages[0].err,
            "ls: cannot access '/nonexistent': No such file or directory\n");
  EXPECT_EQ(trace_count(*d), 1u) << trace_list(*d);
}

// ---- tar, gzip ----

TEST(Tar, CreateIntoExtractThroughPipe) {
  uint64_t file_bytes = 0;
  auto setup = [&file_bytes](const fs::path& w) {
    file_bytes = 0;
    for (int i = 0; i < 60; ++i) {
      std::string data = random_bytes(static_cast<size_t>(i) * 1531, 100 + i);
      write_file(w / "src" / ("d" + std::to_string(i % 4)) / ("f" + std::to_string(i)), data);
      file_bytes += data.size();
    }
    std::string big = text_lines(30000, 5);
    write_file(w / "src" / "big.txt", big);
    file_bytes += big.size();
    fs::create_directories(w / "src" / "empty-dir");
    fs::create_symlink("big.txt", w / "src" / "link");
    fs::create_directories(w / "out");
  };
  auto d = run_case({.stages = {{"tar", "cf", "-", "src"}, {"tar", "xf", "-", "-C", "out"}},
                     .setup = setup,
                     .out_dirs = {"out"},
                     .expect_status = {"exit 0", "exit 0"}});
  EXPECT_TRUE(same_tree(d->root() / "traced" / "src", d->root() / "traced" / "out" / "src"))
      << "the extracted tree is not the source tree";
  ASSERT_EQ(trace_count(*d), 2u) << trace_list(*d);
  auto tars = traces_of(d->dump(), "tar");
  ASSERT_EQ(tars.size(), 2u);
  // By command, not order: the two stages' pids can come in either order.
  const bool first_creates = (*tars[0])["command"][1] == "cf";
  const json& create = *tars[first_creates ? 0 : 1];
  const json& extract = *tars[first_creates ? 1 : 0];
  ASSERT_EQ(create["command"][1], "cf") << trace_list(*d);
  ASSERT_EQ(extract["command"][1], "xf") << trace_list(*d);
  EXPECT_EQ(totals(create, "read", "file").bytes, file_bytes);
  EXPECT_EQ(totals(extract, "write", "file").bytes, file_bytes);
  uint64_t archive = totals(create, "write", "pipe").bytes;
  EXPECT_EQ(archive % 10240, 0u) << "tar writes whole records";
  EXPECT_GT(archive, file_bytes);
  EXPECT_EQ(totals(extract, "read", "pipe").bytes, archive);
}

// gzip | gunzip: gunzip is a shell script that execs gzip -d, so three images in two processes.
TEST(Gzip, RoundTripThroughGunzipScript) {
  const std::string data = text_lines(40000, 9);
  auto d = run_case({.stages = {{"gzip", "-c", "-n", "-6"}, {"gunzip", "-c"}},
                     .stdin_file = "text",
                     .setup = [&](const fs::path& w) { write_file(w / "text", data); },
                     .expect_status = {"exit 0", "exit 0"}});
  EXPECT_TRUE(d->traced().out == data) << "the round trip changed the data";
  ASSERT_EQ(trace_count(*d), 3u) << trace_list(*d);
  auto gz = traces_of(d->dump(), "gzip");
  ASSERT_EQ(gz.size(), 2u) << trace_list(*d);
  const json* pack = (*gz[0])["command"][1] == "-c" ? gz[0] : gz[1];
  const json* unpack = pack == gz[0] ? gz[1] : gz[0];
  EXPECT_EQ((*unpack)["origin"], "exec") << "gzip -d replaces the gunzip script's shell";
  EXPECT_EQ(totals(*pack, "read", "file").bytes, data.size());
  uint64_t compressed = totals(*pack, "write", "pipe").bytes;
  EXPECT_GT(compressed, 0u);
  EXPECT_LT(compressed, data.size());
  EXPECT_EQ(totals(*unpack, "read", "pipe").bytes, compressed);
  EXPECT_EQ(totals(*unpack, "write", "pipe").bytes, data.size());
}

// ---- python3 ----

// -u: every sys.stdout.write is one write(2), so the count is exact.
TEST(Python, UnbufferedLinesOneWriteEach) {
  constexpr int kLines = 2000;
  std::string expected;
  for (int i = 0; i < kLines; ++i) expected += "line " + std::to_string(i) + "\n";
  auto d = run_case(
      {.stages = {{"python3", "-u", "-c",
                   "import sys\nfor i in range(2000): sys.stdout.write('line %d\\n' % i)\n"}},
       .expect_status = {"exit 0"}});
  EXPECT_EQ(d->traced().out, expected);
  ASSERT_EQ(trace_count(*d), 1u) << trace_list(*d);
  const json& py = traces(d->dump())[0];
  Totals out = totals(py, "write", "pipe");
  EXPECT_EQ(out.calls, static_cast<uint64_t>(kLines));
  EXPECT_EQ(out.bytes, expected.size());
  EXPECT_EQ(out.errors, 0u);
  EXPECT_GE(totals(py, "read", "file").calls, 1u) << "python reads its modules with read(2)";
}

// The reader exits early: python ignores SIGPIPE, so it sees EPIPE from write and prints a
// BrokenPipeError traceback. errno must come through the shim unchanged.
TEST(Python, BrokenPipeIntoHead) {
  auto d = run_case(
      {.stages = {{"python3", "-c",
                   "import sys\nfor i in range(300000): sys.stdout.write('%d\\n' % i)\n"},
                  {"head", "-1"}},
       .expect_status = {"exit 1", "exit 0"}});
  EXPECT_NE(d->traced().stages[0].err.find("BrokenPipeError"), std::string::npos)
      << d->traced().stages[0].err;
  ASSERT_EQ(trace_count(*d), 2u) << trace_list(*d);
  auto py = traces_of(d->dump(), "python3");
  ASSERT_EQ(py.size(), 1u);
  Totals out = totals(*py[0], "write", "pipe");
  EXPECT_GE(out.errors, 1u);
  bool epipe = false;
  for (const json* e : events(*py[0], "write")) epipe |= (*e)["errno"] == "EPIPE";
  EXPECT_TRUE(epipe) << "no write event failed with EPIPE";
}

// ---- sqlite3 ----

TEST(Sqlite, CreateInsertQuery) {
  std::string script = "create table t(id integer primary key, name text, value real);\nbegin;\n";
  for (int i = 1; i <= 500; ++i)
    script += "insert into t(name, value) values('row" + std::to_string(i) + "', " +
              std::to_string(i * 1.5) + ");\n";
  script += "commit;\ncreate index t_name on t(name);\n"
            "select count(*), sum(value) from t;\n"
            "select id, name from t where id % 100 = 0 order by name;\n"
            "update t set value = value * 2 where id <= 10;\n"
            "select sum(value) from t where id <= 10;\n";
  auto d = run_case({.stages = {{"sqlite3", "t.db"}},
                     .stdin_file = "script.sql",
                     .setup = [&](const fs::path& w) { write_file(w / "script.sql", script); },
                     .out_files = {"t.db"},
                     .expect_status = {"exit 0"}});
  EXPECT_NE(d->traced().out.find("500|"), std::string::npos) << d->traced().out;
  ASSERT_EQ(trace_count(*d), 1u) << trace_list(*d);
  const json& db = traces(d->dump())[0];
  Totals writes = totals_any(db, {"pwrite", "pwrite64"}, "file");
  Totals reads = totals_any(db, {"pread", "pread64"}, "file");
  EXPECT_GE(writes.calls, 2u);
  EXPECT_GE(writes.bytes, 4096u) << "at least a page";
  EXPECT_GE(reads.calls, 1u);
  // Positional calls on the database file itself (not only its journal), found through the
  // events' file rows.
  std::set<uint64_t> db_rows;
  for (const json& f : db["files"])
    if (f["kind"] == "file" && f["path"].get<std::string>().ends_with("/t.db"))
      db_rows.insert(f["id"].get<uint64_t>());
  ASSERT_FALSE(db_rows.empty()) << "t.db is not among the trace's files";
  auto on_db = [&](std::initializer_list<const char*> ops) {
    uint64_t n = 0;
    for (const char* op : ops)
      for (const json* e : events(db, op))
        n += (*e)["file"].is_number() && db_rows.count((*e)["file"].get<uint64_t>());
    return n;
  };
  EXPECT_GE(on_db({"pwrite", "pwrite64"}), 1u);
  EXPECT_GE(on_db({"pread", "pread64"}), 1u);
}

// ---- git ----

TEST(Git, InitAddCommitLog) {
  auto setup = [](const fs::path& w) {
    write_file(w / "README", "valley e2e\n");
    write_file(w / "src" / "a.txt", text_lines(200, 21));
    write_file(w / "src" / "b.bin", random_bytes(5000, 22));
  };
  const std::string script =
      "git init -q -b main . && git add . && git commit -q -m 'first commit' &&"
      " echo more >> README && git commit -q -a -m second &&"
      " git log --format='%H %an <%ae> %ad %cd %s' --date=iso && git ls-files -s &&"
      " git cat-file -p HEAD && git status --porcelain";
  auto d = run_case({.stages = {{"sh", "-c", script}},
                     .env = {"GIT_AUTHOR_NAME=Valley Test", "GIT_AUTHOR_EMAIL=test@valley.invalid",
                             "GIT_COMMITTER_NAME=Valley Test",
                             "GIT_COMMITTER_EMAIL=test@valley.invalid",
                             "GIT_AUTHOR_DATE=2001-02-03T04:05:06Z",
                             "GIT_COMMITTER_DATE=2001-02-03T04:05:06Z", "GIT_CONFIG_NOSYSTEM=1",
                             "GIT_PAGER=cat"},
                     .setup = setup,
                     .out_files = {"README", "src/a.txt"},
                     .expect_status = {"exit 0"}});
  EXPECT_NE(d->traced().out.find("Valley Test <test@valley.invalid> 2001-02-03"), std::string::npos)
      << d->traced().out;
  std::set<std::string> subcommands;
  uint64_t file_writes = 0;
  for (const json* t : traces_of(d->dump(), "git")) {
    if ((*t)["command"].size() > 1) subcommands.insert((*t)["command"][1].get<std::string>());
    file_writes += totals(*t, "write", "file").calls;
  }
  for (const char* sub : {"init", "add", "commit", "log", "ls-files", "cat-file", "status"})
    EXPECT_TRUE(subcommands.count(sub)) << "no trace of git " << sub << trace_list(*d);
  EXPECT_GE(trace_count(*d), 9u) << trace_list(*d);
  EXPECT_GE(file_writes, 3u) << "git writes its objects (blob, tree, commit) with write(2)";
}

// ---- shell, awk, sed ----

// dash forks a child for each side of the pipe; the loop's echos are write(2)s of dash.
TEST(Shell, LoopPipedIntoHead) {
  auto d = run_case(
      {.stages = {{"sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do echo $i; done | head -3"}},
       .expect_status = {"exit 0"}},
      /*may_die=*/{"sh"}); // the loop's side may or may not get SIGPIPE: timing
  EXPECT_EQ(d->traced().out, "1\n2\n3\n");
  // The shell, its loop child, and the child that becomes head (before and after exec).
  ASSERT_EQ(trace_count(*d), 4u) << trace_list(*d);
  auto head = traces_of(d->dump(), "head");
  ASSERT_EQ(head.size(), 1u) << trace_list(*d);
  EXPECT_EQ((*head[0])["origin"], "exec");
  EXPECT_GE(totals(*head[0], "read", "pipe").calls, 1u);
  uint64_t echoes = 0;
  for (const json* t : traces_of(d->dump(), "sh")) echoes += totals(*t, "write", "pipe").calls;
  EXPECT_GE(echoes, 3u);
  EXPECT_LE(echoes, 10u);
  // The parent shell only forks and waits: after the shim starts it makes no read or write
  // syscall (strace -e read,write shows none), so its coverage must not count any. The
  // kernel's /proc/self/io adds waited-for children's I/O to the parent's.
  for (const json* t : traces_of(d->dump(), "sh")) {
    if ((*t)["origin"] != "start") continue;
    EXPECT_EQ((*t)["coverage"]["kernel_syscw"], 0) << "the children's writes counted in the parent";
    EXPECT_EQ((*t)["coverage"]["kernel_wchar"], 0);
  }
}

TEST(Awk, EndlessPrintKilledBySigpipe) {
  auto d = run_case({.stages = {{"mawk", "BEGIN { for (i = 0; ; i++) print i }"}, {"head", "-3"}},
                     .expect_status = {"signal SIGPIPE", "exit 0"}},
                    /*may_die=*/{"mawk"});
  EXPECT_EQ(d->traced().out, "0\n1\n2\n");
  ASSERT_EQ(trace_count(*d), 2u) << trace_list(*d);
  auto awk = traces_of(d->dump(), "mawk");
  ASSERT_EQ(awk.size(), 1u);
  EXPECT_EQ((*awk[0])["state"], "killed-or-crashed");
}

TEST(Sed, SubstituteIntoHead) {
  auto d = run_case({.stages = {{"seq", "1", "300000"}, {"sed", "s/^/x/"}, {"head", "-2"}},
                     .expect_status = {"signal SIGPIPE", "signal SIGPIPE", "exit 0"}},
                    /*may_die=*/{"seq", "sed"});
  EXPECT_EQ(d->traced().out, "x1\nx2\n");
  EXPECT_EQ(trace_count(*d), 3u) << trace_list(*d);
}

// sed over a file, no early exit: the whole output is compared.
TEST(Sed, InPlaceEdit) {
  const std::string data = text_lines(20000, 31);
  auto d = run_case({.stages = {{"sed", "-i", "-e", "s/alpha/ALPHA/g", "-e", "/beta/d", "f.txt"}},
                     .setup = [&](const fs::path& w) { write_file(w / "f.txt", data); },
                     .out_files = {"f.txt"},
                     .expect_status = {"exit 0"}});
  EXPECT_EQ(trace_count(*d), 1u) << trace_list(*d);
}

} // namespace
} // namespace valley::e2e
