// SPDX-License-Identifier: MIT
// The recorder under the real preload, on victims with known call counts (tests/shim/victims,
// ground truth on each file's first lines), read back with `valley dump --json`.
#include "subprocess.h"
#include "valley/format.h"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using nlohmann::json;
using valley::testing::Outcome;
using valley::testing::run;

namespace {

fs::path temp_dir() {
  char tmpl[] = "/tmp/valley-e2e-XXXXXX";
  return fs::path(mkdtemp(tmpl));
}

struct Traced {
  Outcome out;  // the victim's
  json dump;    // valley dump --json of its run directory
  fs::path dir; // the run directory
  ~Traced() {
    if (!dir.empty()) fs::remove_all(dir);
  }
  const json& procs() const { return dump["processes"]; }
  const json& proc(size_t i = 0) const { return dump["processes"].at(i); }
};

valley::testing::SpawnOptions with_env(std::vector<std::string> env) {
  valley::testing::SpawnOptions o;
  o.env = std::move(env);
  return o;
}

// The .vev files of a run directory walked block by block (include/valley/format.h) without
// loading them whole: how many records they hold, the thread ids of each block's first record,
// and with `flags`, how many records carry each EventBits bit.
struct VevStats {
  uint64_t records = 0;
  std::set<uint32_t> tids;
  std::map<uint8_t, uint64_t> flags; // bit -> records with it
  std::string problem;               // empty when every file is well formed
};
VevStats vev_stats(const fs::path& dir, bool flags = false) {
  VevStats s;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".vev") continue;
    std::ifstream in(e.path(), std::ios::binary);
    valley::EventsHeader h{};
    if (!in.read(reinterpret_cast<char*>(&h), sizeof h)) s.problem = "short header";
    const uint64_t size = e.file_size();
    std::vector<valley::EventRecord> recs;
    for (uint64_t off = sizeof h; s.problem.empty() && off < size;) {
      valley::EventBlock b{};
      in.seekg(static_cast<std::streamoff>(off));
      if (!in.read(reinterpret_cast<char*>(&b), sizeof b) || b.magic != valley::kBlockMagic || b.count == 0) {
        s.problem = "bad block at " + std::to_string(off);
        break;
      }
      recs.resize(flags ? b.count : 1);
      if (!in.read(reinterpret_cast<char*>(recs.data()), static_cast<std::streamsize>(recs.size() * sizeof recs[0]))) {
        s.problem = "block cut short at " + std::to_string(off);
        break;
      }
      s.records += b.count;
      s.tids.insert(recs[0].tid);
      if (flags)
        for (const valley::EventRecord& r : recs)
          for (uint8_t bit = 1; bit; bit = static_cast<uint8_t>(bit << 1))
            if (r.flags & bit) ++s.flags[bit];
      off += sizeof b + uint64_t{b.count} * sizeof(valley::EventRecord);
      if (off > size) s.problem = "block past the end at " + std::to_string(off);
    }
  }
  return s;
}

Outcome dump_json(const fs::path& dir) { return run({VALLEY_BIN, "dump", "--json", dir}); }

// Runs argv with the shim preloaded into a fresh run directory and dumps it.
std::unique_ptr<Traced> traced(const std::vector<std::string>& argv,
                               std::vector<std::string> env = {}) {
  auto t = std::make_unique<Traced>();
  t->dir = temp_dir();
  env.push_back(std::string("LD_PRELOAD=") + VALLEY_SHIM);
  env.push_back("VALLEY_DIR=" + t->dir.string());
  t->out = run(argv, with_env(env));
  Outcome d = dump_json(t->dir);
  EXPECT_TRUE(d.exited(0)) << d.describe();
  t->dump = json::parse(d.out, nullptr, false);
  EXPECT_FALSE(t->dump.is_discarded()) << d.out.substr(0, 400);
  EXPECT_TRUE(t->dump["problems"].empty()) << t->dump["problems"].dump();
  return t;
}

// Sums a counter field over the rows matching op (and fd kind, and function, when given).
uint64_t sum(const json& proc, const std::string& field, const std::string& op,
             const std::string& kind = "", const std::string& function = "") {
  uint64_t total = 0;
  for (const json& c : proc["counters"]) {
    if (c["op"] != op) continue;
    if (!kind.empty() && c["fd_kind"] != kind) continue;
    if (!function.empty() && c["function"] != function) continue;
    total += c[field].get<uint64_t>();
  }
  return total;
}
uint64_t calls(const json& proc, const std::string& op, const std::string& kind = "",
               const std::string& function = "") {
  return sum(proc, "calls", op, kind, function);
}

uint64_t all_calls(const json& proc) {
  uint64_t total = 0;
  for (const json& c : proc["counters"]) total += c["calls"].get<uint64_t>();
  return total;
}

std::string victim(const char* name) { return std::string(VALLEY_VICTIMS) + "/" + name; }

// S-10: a CPython without a layout row (here a fake 3.12) is noted and never read; its calls
// keep their native sites.
TEST(Recorder, UnsupportedPythonKeepsNativeSites) {
  auto t = traced({std::string(VALLEY_VICTIMS) + "/valley_victim_fake_python"});
  EXPECT_TRUE(t->out.exited(0)) << t->out.describe();
  EXPECT_EQ(t->out.out, std::string(200, 'x'));
  EXPECT_EQ(t->out.err, "");
  ASSERT_EQ(t->procs().size(), 1u);
  EXPECT_EQ(t->proc()["python"]["state"], "unsupported");
  EXPECT_EQ(t->proc()["python"]["version"], "3.12.0");
  EXPECT_EQ(sum(t->proc(), "calls", "write", "", "main"), 200u);
  for (const json& s : t->proc()["sites"])
    EXPECT_TRUE(s["python"].empty()) << s.dump();
}

} // namespace

TEST(Recorder, EveryEntryPointCountedWithErrnoIntact) {
  fs::path data = temp_dir();
  auto t = traced({victim("valley_victim_calls"), data});
  fs::remove_all(data);
  ASSERT_TRUE(t->out.exited(0)) << t->out.describe(); // the victim checks errno itself
  ASSERT_EQ(t->procs().size(), 1u);
  const json& p = t->proc();
  const std::vector<std::tuple<std::string, std::string, uint64_t>> expected = {
      {"write", "file", 7},        {"writev", "file", 3},       {"pwrite", "file", 4},
      {"pwritev", "file", 2},      {"pwritev2", "file", 1},     {"read", "file", 5},
      {"readv", "file", 2},        {"pread", "file", 6},        {"preadv", "file", 1},
      {"preadv2", "file", 1},      {"send", "unix-stream", 8},  {"recv", "unix-stream", 8},
      {"sendmsg", "unix-stream", 2}, {"recvmsg", "unix-stream", 2}, {"sendto", "udp", 3},
      {"recvfrom", "udp", 3},      {"sendmmsg", "udp", 1},      {"recvmmsg", "udp", 1},
      {"write", "pipe", 2},        {"read", "pipe", 2},         {"write", "chardev", 1},
      {"open", "file", 1},         {"open", "chardev", 1}};
  uint64_t expected_total = 0;
  for (const auto& [op, kind, n] : expected) {
    EXPECT_EQ(calls(p, op, kind), n) << op << " on " << kind;
    expected_total += n;
  }
  // One failing call per entry point, on fd -1.
  for (const char* op : {"write", "writev", "pwrite", "pwritev", "pwritev2", "read", "readv",
                         "pread", "preadv", "preadv2", "send", "sendto", "sendmsg", "sendmmsg",
                         "recv", "recvfrom", "recvmsg", "recvmmsg"}) {
    EXPECT_EQ(calls(p, op, "bad-fd"), 1u) << op;
    EXPECT_EQ(sum(p, "errors", op, "bad-fd"), 1u) << op;
    ++expected_total;
  }
  EXPECT_EQ(all_calls(p), expected_total);
  EXPECT_EQ(sum(p, "bytes", "sendmmsg", "udp"), 16u); // 4 messages of 4 bytes
  EXPECT_EQ(sum(p, "bytes", "write", "file"), 14u);
  EXPECT_EQ(p["events"].size(), expected_total);
  EXPECT_EQ(p["events_dropped"], 0);
  EXPECT_EQ(p["state"], "finished");
  // Coverage: what valley saw next to what the kernel counted.
  EXPECT_EQ(p["coverage"]["valid"], true) << p["coverage"].dump();
}

// I-20: pointers the kernel refuses (EFAULT) make the call fail under valley exactly as
// without it, recording or coalescing: valley reads the program's memory for a failed call
// only through the kernel, and the coalescer copies only what the kernel could read.
TEST(Recorder, BadPointersFailAsWithoutValley) {
  fs::path data = temp_dir();
  Outcome bare = run({victim("valley_victim_bad_pointers"), (data / "bare").string()});
  ASSERT_TRUE(bare.exited(0)) << bare.describe();
  ASSERT_NE(bare.out.find("writev bad array: -1 errno 14"), std::string::npos) << bare.out;
  for (const std::vector<std::string>& env :
       {std::vector<std::string>{}, std::vector<std::string>{"VALLEY_COALESCE=1"}}) {
    auto t = traced({victim("valley_victim_bad_pointers"), (data / "traced").string()}, env);
    EXPECT_TRUE(t->out.exited(0)) << (env.empty() ? "recording: " : "coalescing: ")
                                  << t->out.describe();
    EXPECT_EQ(t->out.out, bare.out) << (env.empty() ? "recording" : "coalescing");
    EXPECT_EQ(calls(t->proc(), "writev"), 3u);
    EXPECT_EQ(sum(t->proc(), "errors", "writev"), 3u);
    std::ifstream in(data / "traced");
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "ok\nend\n");
  }
  fs::remove_all(data);
}

// I-02 under the coalescer: it classifies a new fd before the real call (for /dev/null that
// includes a TCGETS probe that fails), and every call's errno must still be the program's.
TEST(Recorder, ErrnoIntactWhenTheCoalescerLooksFirst) {
  fs::path data = temp_dir();
  auto t = traced({victim("valley_victim_calls"), data}, {"VALLEY_COALESCE=1"});
  fs::remove_all(data);
  EXPECT_TRUE(t->out.exited(0)) << t->out.describe();
  EXPECT_EQ(t->out.err, "");
  uint64_t absorbed = 0;
  for (const json& e : t->proc()["events"])
    for (const json& f : e["flags"]) absorbed += f == "coalesced";
  EXPECT_GT(absorbed, 0u) << "the coalescer was not on";
}

// I-02: a flush that fails inside another call (here lseek, after the pipe's reader left)
// leaves that call's errno alone; the error comes with the next write to the pipe.
TEST(Recorder, ErrnoIntactWhenAFlushInsideAnotherCallFails) {
  fs::path dir = temp_dir();
  auto t = traced({victim("valley_victim_errno_flush"), (dir / "f").string()},
                  {"VALLEY_COALESCE=1", "VALLEY_COALESCE_KINDS=file,pipe",
                   "VALLEY_COALESCE_MAX_AGE_MS=1000"});
  fs::remove_all(dir);
  EXPECT_TRUE(t->out.exited(0)) << t->out.describe();
  uint64_t absorbed = 0;
  for (const json& e : t->proc()["events"])
    for (const json& f : e["flags"]) absorbed += f == "coalesced" && e["fd_kind"] == "pipe";
  EXPECT_EQ(absorbed, 1u) << "the byte was not buffered, so no flush could fail";
}

TEST(Recorder, LargeFileOffsetBuildUsesThe64BitNames) {
  fs::path data = temp_dir();
  auto t = traced({victim("valley_victim_calls_lfs"), data});
  fs::remove_all(data);
  ASSERT_TRUE(t->out.exited(0)) << t->out.describe();
  const json& p = t->proc();
  EXPECT_EQ(calls(p, "pwrite64", "file"), 4u);
  EXPECT_EQ(calls(p, "pwritev64", "file"), 2u);
  EXPECT_EQ(calls(p, "pwritev64v2", "file"), 1u);
  EXPECT_EQ(calls(p, "pread64", "file"), 6u);
  EXPECT_EQ(calls(p, "preadv64", "file"), 1u);
  EXPECT_EQ(calls(p, "preadv64v2", "file"), 1u);
  EXPECT_EQ(calls(p, "pwrite"), 0u);
  EXPECT_EQ(calls(p, "write", "file"), 7u);
  EXPECT_EQ(calls(p, "write", "chardev"), 1u);
}

TEST(Recorder, FortifiedReadsAreSeenAndStillCheck) {
  for (const char* name : {"valley_victim_fortified", "valley_victim_fortified_lfs"}) {
    SCOPED_TRACE(name);
    auto t = traced({victim(name), "/etc/passwd", "8"});
    ASSERT_TRUE(t->out.exited(0)) << t->out.describe();
    const json& p = t->proc();
    EXPECT_EQ(calls(p, "read_chk", "file"), 3u);
    EXPECT_EQ(calls(p, "pread_chk", "file") + calls(p, "pread64_chk", "file"), 2u);
    EXPECT_EQ(calls(p, "recv_chk", "unix-stream"), 4u);
    EXPECT_EQ(calls(p, "recvfrom_chk", "unix-stream"), 1u);
    // glibc's overflow check still fires, exactly as without valley.
    Outcome bare = run({victim(name), "/etc/passwd", "8", "overflow"});
    auto over = traced({victim(name), "/etc/passwd", "8", "overflow"});
    EXPECT_TRUE(bare.signaled(SIGABRT)) << bare.describe();
    EXPECT_EQ(over->out.status, bare.status);
    EXPECT_EQ(over->out.err, bare.err);
  }
}

// Counted from the dump's counters and the .vev blocks, not from 800,000 events in JSON.
TEST(Recorder, ThreadsShareOneTraceAndNothingIsLostUncounted) {
  fs::path dir = temp_dir();
  std::vector<std::string> env = {std::string("LD_PRELOAD=") + VALLEY_SHIM, "VALLEY_DIR=" + dir.string()};
  Outcome o = run({victim("valley_victim_threads"), "8", "100000"}, with_env(env));
  ASSERT_TRUE(o.exited(0)) << o.describe();
  Outcome d = run({VALLEY_BIN, "dump", "--json", "--no-events", dir});
  json j = json::parse(d.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << d.describe();
  ASSERT_EQ(j["processes"].size(), 1u);
  const json& p = j["processes"][0];
  EXPECT_EQ(calls(p, "write", "chardev", "writer"), 800000u);
  const VevStats v = vev_stats(dir);
  EXPECT_EQ(v.problem, "");
  EXPECT_EQ(p["events_dropped"], 0) << "8 threads with the default buffers drop nothing";
  EXPECT_EQ(v.records, 800001u) << "main's open and 8 x 100000 writes";
  EXPECT_EQ(p["events_total"].get<uint64_t>(), 800001u);
  EXPECT_EQ(v.tids.size(), 9u) << "one block at least per writer thread, and main's";
  fs::remove_all(dir);
}

TEST(Recorder, ForkedChildrenGetTheirOwnTraces) {
  auto t = traced({victim("valley_victim_forker")});
  ASSERT_TRUE(t->out.exited(0)) << t->out.describe();
  ASSERT_EQ(t->procs().size(), 4u);
  int parent_pid = -1;
  for (const json& p : t->procs())
    if (p["origin"] == "start") parent_pid = p["pid"];
  ASSERT_NE(parent_pid, -1);
  int children = 0;
  for (const json& p : t->procs()) {
    if (p["pid"] == parent_pid) {
      EXPECT_EQ(calls(p, "write", "chardev"), 105u);
      continue;
    }
    ++children;
    EXPECT_EQ(p["origin"], "fork");
    EXPECT_EQ(p["ppid"], parent_pid);
    EXPECT_EQ(p["parent"]["pid"], parent_pid);
    EXPECT_EQ(calls(p, "write", "chardev", "child_work"), 1000u);
    EXPECT_EQ(p["state"], "finished") << "every exit path (_exit, exit, return) closes the trace";
  }
  EXPECT_EQ(children, 3);
}

// A vfork child runs on the parent's memory and stack without fork handlers: its calls land in
// the parent's trace, and its _exit must not end that trace or tear the ring.
TEST(Recorder, VforkChildrenLeaveTheParentsTraceWhole) {
  std::string expected;
  for (int i = 0; i < 50; ++i) expected += "cp";
  for (const char* coalesce : {"VALLEY_COALESCE=0", "VALLEY_COALESCE=1"}) {
    SCOPED_TRACE(coalesce);
    auto t = traced({victim("valley_victim_vforker")},
                    {coalesce, "VALLEY_COALESCE_STDIO=1", "VALLEY_COALESCE_KINDS=file,pipe"});
    ASSERT_TRUE(t->out.exited(0)) << t->out.describe();
    EXPECT_EQ(t->out.out, expected);
    ASSERT_EQ(t->procs().size(), 1u);
    const json& p = t->proc();
    EXPECT_EQ(p["state"], "finished");
    EXPECT_EQ(calls(p, "write", "pipe", "main"), 100u);
    EXPECT_EQ(p["events_torn"], 0);
    EXPECT_EQ(p["events_dropped"], 0);
    EXPECT_EQ(p["events_late"], 0) << "a child's _exit ended the parent's trace";
    if (coalesce == std::string("VALLEY_COALESCE=0")) {
      EXPECT_EQ(p["coverage"]["seen_writes"], 100);
    }
  }
}

TEST(Recorder, ExecKeepsTracingTheNewImage) {
  for (const char* how : {"execv", "execvp", "execl", "scrub"}) {
    SCOPED_TRACE(how);
    auto t = traced({victim("valley_victim_execer"), how});
    ASSERT_TRUE(t->out.exited(0)) << t->out.describe();
    ASSERT_EQ(t->procs().size(), 2u);
    const json* first = nullptr;
    const json* second = nullptr;
    for (const json& p : t->procs()) (p["seq"] == 0 ? first : second) = &p;
    ASSERT_TRUE(first && second);
    EXPECT_EQ((*first)["pid"], (*second)["pid"]);
    EXPECT_EQ((*first)["state"], "exec");
    EXPECT_EQ((*second)["origin"], "exec");
    EXPECT_EQ(calls(*first, "write", "chardev"), 10u);
    EXPECT_EQ(calls(*second, "write", "chardev"), 20u);
    EXPECT_EQ((*second)["command"].at(2), "stage2");
  }
}

TEST(Recorder, DlopenedLibraryIsSymbolized) {
  auto t = traced({victim("valley_victim_dlopener"), VALLEY_PLUGIN});
  ASSERT_TRUE(t->out.exited(0)) << t->out.describe();
  const json& p = t->proc();
  bool module_seen = false;
  for (const json& m : p["modules"]) module_seen |= m["path"] == VALLEY_PLUGIN;
  EXPECT_TRUE(module_seen) << "the module map is refreshed after dlopen";
  // A library writing for itself is split by its caller (main); the library frame is named.
  uint64_t n = 0;
  for (const json& s : p["sites"]) {
    if (s["frame"]["function"] != "plugin_emit") continue;
    for (const json& c : p["counters"])
      if (c["site"] == s["id"]) n += c["calls"].get<uint64_t>();
  }
  EXPECT_EQ(n, 50u);
}

// The FileRows of the one .vseg in dir, read straight from the segment (the dump does not show
// FileRow::reserved).
std::vector<valley::FileRow> file_rows(const fs::path& dir) {
  std::vector<valley::FileRow> rows;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".vseg") continue;
    std::ifstream in(e.path(), std::ios::binary);
    valley::SegmentHeader h{};
    in.read(reinterpret_cast<char*>(&h), sizeof h);
    rows.resize(std::min(h.files_used, h.files.capacity));
    in.seekg(static_cast<std::streamoff>(h.files.offset));
    in.read(reinterpret_cast<char*>(rows.data()), static_cast<std::streamsize>(rows.size() * sizeof(valley::FileRow)));
  }
  return rows;
}

// Item by item, tests/shim/victims/ops.c: the ops with direction `none` (ops.def), each once.
TEST(Recorder, SyncCopyOpenCloseAndUnlinkAreRecordedOnceEach) {
  fs::path data = temp_dir();
  auto t = traced({victim("valley_victim_ops"), data});
  ASSERT_TRUE(t->out.exited(0)) << t->out.describe();
  const json& p = t->proc();
  const std::vector<std::tuple<std::string, std::string, uint64_t>> expected = {
      {"open", "file", 3},      {"open", "unknown", 1},         {"close", "file", 2},
      {"unlink", "unknown", 2},
      {"fsync", "file", 1},     {"fdatasync", "file", 1},       {"sync_file_range", "file", 1},
      {"msync", "unknown", 1},  {"sendfile", "file", 1},        {"copy_file_range", "file", 1},
      {"splice", "pipe", 1},    {"tee", "pipe", 1}};
  for (const auto& [op, kind, n] : expected) EXPECT_EQ(calls(p, op, kind), n) << op << " on " << kind;
  EXPECT_EQ(sum(p, "bytes", "sendfile", "file"), 10u);
  EXPECT_EQ(sum(p, "bytes", "open", "file"), 0u) << "open's result is an fd, not bytes";
  // Which fd each path got, from the FileRows.
  std::map<std::string, int64_t> fd_of;
  std::map<int64_t, std::string> path_of_file;
  for (const json& f : p["files"]) {
    const std::string path = f["path"];
    fd_of[path.substr(path.rfind('/') + 1)] = f["fd"].get<int64_t>();
    path_of_file[f["id"].get<int64_t>()] = path;
  }
  std::map<std::string, std::vector<json>> by_op;
  for (const json& e : p["events"]) by_op[e["op"]].push_back(e);
  auto one = [&](const std::string& op) -> const json& {
    EXPECT_EQ(by_op[op].size(), op == "open" ? 4u : op == "close" || op == "unlink" ? 2u : 1u) << op;
    by_op[op].resize(std::max<size_t>(by_op[op].size(), 1));
    return by_op[op][0];
  };
  ASSERT_EQ(by_op["open"].size(), 4u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(by_op["open"][i]["fd"], by_op["open"][i]["result"]) << "the new fd";
  const json& failed = by_op["open"][3];
  EXPECT_EQ(failed["fd"], -1);
  EXPECT_EQ(failed["errno"], "ENOENT");
  EXPECT_EQ(path_of_file[failed["offset"].get<int64_t>()], "missing") << "a failed open keeps its path";
  EXPECT_EQ(one("open")["fd"], fd_of["a"]);
  EXPECT_EQ(one("fsync")["fd"], fd_of["a"]);
  EXPECT_EQ(one("fsync")["size"], 0);
  EXPECT_EQ(one("fdatasync")["fd"], fd_of["a"]);
  EXPECT_EQ(one("sync_file_range")["size"], 8);
  EXPECT_EQ(one("sync_file_range")["offset"], 2);
  EXPECT_EQ(one("msync")["fd"], -1);
  EXPECT_EQ(one("msync")["size"], 4096);
  for (const char* op : {"sendfile", "copy_file_range"}) {
    EXPECT_EQ(one(op)["fd"], fd_of["b"]) << op << ": the fd written to";
    EXPECT_EQ(one(op)["size"], 10) << op;
    EXPECT_EQ(one(op)["result"], 10) << op;
  }
  EXPECT_EQ(one("splice")["fd_kind"], "pipe");
  EXPECT_EQ(one("tee")["size"], 10);
  ASSERT_EQ(by_op["close"].size(), 2u);
  EXPECT_EQ(path_of_file[by_op["close"][0]["file"].get<int64_t>()], (data / "c").string());
  EXPECT_EQ(path_of_file[by_op["close"][1]["file"].get<int64_t>()], (data / "d").string())
      << "fclose's fd, opened inside libc, is named by its path";
  ASSERT_EQ(by_op["unlink"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const json& e = by_op["unlink"][i];
    EXPECT_EQ(e["fd"], -1);
    EXPECT_EQ(path_of_file[e["offset"].get<int64_t>()], i == 0 ? "c" : "d") << "the path unlinked";
  }
  // The kernel counts sendfile and copy_file_range as a read and a write each: so does valley.
  EXPECT_EQ(p["coverage"]["valid"], true);
  EXPECT_EQ(p["coverage"]["seen_reads"], 2) << p["coverage"].dump();
  EXPECT_EQ(p["coverage"]["seen_writes"], 3) << p["coverage"].dump();
  fs::remove_all(data);
}

// FileRow::reserved[0] of a tcp socket holds TCP_NODELAY and TCP_CORK as classified; a
// setsockopt of either starts a new FileRow that the later events map to.
TEST(Recorder, TcpNodelayAndCorkAreKeptPerFileRow) {
  fs::path data = temp_dir();
  auto t = traced({victim("valley_victim_ops"), data});
  ASSERT_TRUE(t->out.exited(0)) << t->out.describe();
  std::vector<uint8_t> bits;
  int64_t fd = -2;
  for (const valley::FileRow& r : file_rows(t->dir)) {
    if (r.kind != static_cast<uint8_t>(valley::FdKind::tcp)) continue;
    if (fd == -2) fd = r.fd;
    EXPECT_EQ(r.fd, fd) << "one client socket";
    bits.push_back(r.reserved[0]);
  }
  EXPECT_EQ(bits, (std::vector<uint8_t>{valley::kFileTcpValid, valley::kFileTcpValid | valley::kFileTcpNodelay,
                                        valley::kFileTcpValid | valley::kFileTcpNodelay | valley::kFileTcpCork}));
  std::vector<int64_t> files;
  for (const json& e : t->proc()["events"])
    if (e["op"] == "send") files.push_back(e["file"].get<int64_t>());
  ASSERT_EQ(files.size(), 3u);
  EXPECT_LT(files[0], files[1]);
  EXPECT_LT(files[1], files[2]) << "each send maps to the FileRow of its time";
  fs::remove_all(data);
}

TEST(Recorder, TraceSurvivesSigkill) {
  auto t = traced({victim("valley_victim_killed")});
  ASSERT_TRUE(t->out.signaled(SIGKILL)) << t->out.describe();
  const json& p = t->proc();
  EXPECT_EQ(p["state"], "killed-or-crashed");
  EXPECT_EQ(calls(p, "write", "chardev"), 1000u);
  EXPECT_EQ(p["events_total"], 1001) << "the open and the 1000 writes, none drained";
  EXPECT_EQ(p["coverage"]["valid"], false);
}

TEST(Recorder, CallsBeforeTheConstructorAndAfterTheDestructorAreKept) {
  Outcome bare = run({victim("valley_victim_early")});
  auto t = traced({victim("valley_victim_early")});
  EXPECT_EQ(bare.err, "early\nmain\nlate\n");
  EXPECT_EQ(t->out.err, bare.err);
  EXPECT_EQ(t->out.status, bare.status);
  const json& p = t->proc();
  EXPECT_EQ(calls(p, "write"), 3u);
  int late = 0;
  for (const json& e : p["events"])
    for (const json& f : e["flags"]) late += f == "late";
  EXPECT_EQ(late, 1) << "the destructor's write after valley's own is kept and marked";
}

TEST(Recorder, LibraryCallsSplitByCallingFunction) {
  Outcome bare = run({victim("valley_victim_streams")});
  auto t = traced({victim("valley_victim_streams")});
  EXPECT_EQ(t->out.out, bare.out);
  const json& p = t->proc();
  std::map<std::string, uint64_t> by_caller;
  for (const json& s : p["sites"]) {
    if (s["caller"].is_null()) continue;
    for (const json& c : p["counters"])
      if (c["site"] == s["id"]) by_caller[s["caller"]["function"]] += c["calls"].get<uint64_t>();
  }
  EXPECT_EQ(by_caller["emit_alpha()"], 10u) << json(by_caller).dump();
  EXPECT_EQ(by_caller["emit_beta()"], 10u) << json(by_caller).dump();
}

TEST(Recorder, CallSitesCarryFunctionFileAndLine) {
  fs::path cfg = temp_dir() / "config";
  std::ofstream(cfg) << "abcdefghij";
  Outcome bare = run({victim("valley_victim_sites"), cfg});
  auto t = traced({victim("valley_victim_sites"), cfg});
  fs::remove_all(cfg.parent_path());
  EXPECT_EQ(t->out.out, bare.out);
  EXPECT_EQ(t->out.out, std::string(3, '#') + std::string(300, 'r'));
  const json& p = t->proc();
  EXPECT_EQ(calls(p, "write", "", "emit_row"), 300u);
  EXPECT_EQ(calls(p, "write", "", "emit_header"), 3u);
  EXPECT_EQ(calls(p, "read", "file", "read_config"), 11u); // 10 bytes, then EOF
  EXPECT_EQ(sum(p, "zero_results", "read", "file", "read_config"), 1u);
  for (const json& c : p["counters"]) {
    if (c["function"] != "emit_row") continue;
    EXPECT_TRUE(c["file"].get<std::string>().ends_with("sites.c")) << c.dump();
    EXPECT_EQ(c["line"], 11) << c.dump(); // the write(1, "r", 1) line in sites.c
  }
}

TEST(Recorder, CoverageCountsWhatValleyCouldNotSee) {
  fs::path in = temp_dir() / "two";
  std::ofstream(in) << "ab";
  auto t = traced({victim("valley_victim_coverage"), in});
  fs::remove_all(in.parent_path());
  ASSERT_TRUE(t->out.exited(0)) << t->out.describe();
  EXPECT_EQ(t->out.out, "wwwwwstdio\n");
  const json& c = t->proc()["coverage"];
  ASSERT_EQ(c["valid"], true);
  EXPECT_EQ(c["seen_writes"], 5);
  EXPECT_EQ(c["kernel_syscw"], 6) << "the stdio write is the kernel's, not valley's";
  EXPECT_EQ(c["seen_reads"], 3);
  EXPECT_EQ(c["kernel_syscr"], 3) << "valley's own reads of /proc are not the program's";
  EXPECT_EQ(c["kernel_wchar"], 11);
  EXPECT_EQ(c["seen_wbytes"], 5);
}

// B-18.6: threads that wrote and ended before the process did are still in the kernel's
// figures (their /proc/self/task entries are gone by then), and reaped children are not.
TEST(Recorder, CoverageCountsThreadsThatEnded) {
  for (const bool coalesce : {false, true}) {
    SCOPED_TRACE(coalesce ? "coalesced" : "recorded");
    fs::path out = temp_dir() / "out";
    std::vector<std::string> env;
    if (coalesce) env = {"VALLEY_COALESCE=1"};
    auto t = traced({victim("valley_victim_exited_threads"), out}, env);
    ASSERT_TRUE(t->out.exited(0)) << t->out.describe();
    std::ifstream f(out);
    std::string written((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    fs::remove_all(out.parent_path());
    EXPECT_EQ(written.size(), 1001u);
    const json& c = t->proc()["coverage"];
    ASSERT_EQ(c["valid"], true) << c.dump();
    EXPECT_EQ(c["kernel_syscw"], c["seen_writes"]) << c.dump();
    EXPECT_EQ(c["kernel_syscr"], c["seen_reads"]) << c.dump();
    EXPECT_EQ(c["kernel_wchar"], c["seen_wbytes"]) << c.dump();
    EXPECT_EQ(c["kernel_rchar"], c["seen_rbytes"]) << c.dump();
    EXPECT_EQ(c["seen_reads"], 1001) << c.dump();
    EXPECT_EQ(c["kernel_wchar"], 1001) << c.dump();
    if (!coalesce)
      EXPECT_EQ(c["seen_writes"], 1001) << c.dump();
    else
      EXPECT_LT(c["seen_writes"].get<uint64_t>(), 1001u) << "nothing coalesced: " << c.dump();
  }
}

// B-18.6: the coalescer's flusher thread reads /proc/self/stat, valley's own reads, which the
// kernel side subtracts; when the flusher ends before the final count (here while the exit's
// flush waits on a full pipe) its reads must still be in the kernel's figures, or the program
// seems to have read less than valley saw.
TEST(Recorder, CoverageKeepsTheFlusherThreadThatEnded) {
  auto t = traced({victim("valley_victim_flusher_gone")},
                  {"VALLEY_COALESCE=1", "VALLEY_COALESCE_KINDS=pipe"});
  ASSERT_TRUE(t->out.exited(0)) << t->out.describe();
  EXPECT_EQ(t->out.out, "ok\n") << "the child did not get the fill and then the buffered byte";
  ASSERT_EQ(t->procs().size(), 2u);
  const json& parent = t->proc(0)["origin"] == "start" ? t->proc(0) : t->proc(1);
  ASSERT_EQ(parent["origin"], "start");
  EXPECT_EQ(calls(parent, "write", "pipe"), 3u) << "its two and the exit's flush";
  const json& c = parent["coverage"];
  ASSERT_EQ(c["valid"], true) << c.dump();
  EXPECT_EQ(c["seen_reads"], 10) << c.dump();
  EXPECT_EQ(c["seen_rbytes"], 1000) << c.dump();
  EXPECT_EQ(c["kernel_syscr"], c["seen_reads"]) << c.dump();
  EXPECT_EQ(c["kernel_rchar"], c["seen_rbytes"]) << c.dump();
  EXPECT_EQ(c["kernel_syscw"], c["seen_writes"]) << c.dump();
  EXPECT_EQ(c["kernel_wchar"], c["seen_wbytes"]) << c.dump();
}

// B-18.7: a process whose main thread called pthread_exit ends in its last thread, the
// coalescer's flusher, after that thread's end was counted (B-18.6): the final count is then
// taken on it, and its writes since (the final drain of main's events) are valley's own.
TEST(Recorder, CoverageTakenOnALastThreadThatEnded) {
  auto t = traced({victim("valley_victim_last_thread")}, {"VALLEY_COALESCE=1"});
  ASSERT_TRUE(t->out.exited(0)) << t->out.describe();
  EXPECT_EQ(t->out.out, std::string(10, 'p') + std::string(20, 'w'));
  ASSERT_EQ(t->procs().size(), 1u);
  const json& c = t->proc()["coverage"];
  ASSERT_EQ(c["valid"], true) << c.dump();
  EXPECT_EQ(c["seen_writes"], 30) << c.dump();
  EXPECT_EQ(c["kernel_syscw"], c["seen_writes"]) << c.dump();
  EXPECT_EQ(c["kernel_wchar"], c["seen_wbytes"]) << c.dump();
}

// B-18.6: the final count is taken while another thread's reads still complete. Valley's
// figures are summed first and the kernel's after, so every read valley had seen is in the
// kernel's too (the other way round, the reads in between were valley's only).
TEST(Recorder, CoverageNeverAboveTheKernelWhileAThreadReads) {
  auto t = traced({victim("valley_victim_busy_reader")});
  ASSERT_TRUE(t->out.exited(0)) << t->out.describe();
  ASSERT_EQ(t->procs().size(), 1u);
  const json& c = t->proc()["coverage"];
  ASSERT_EQ(c["valid"], true) << c.dump();
  EXPECT_GE(c["seen_reads"].get<uint64_t>(), 2000u) << c.dump();
  EXPECT_LE(c["seen_reads"].get<uint64_t>(), c["kernel_syscr"].get<uint64_t>()) << c.dump();
  EXPECT_LE(c["seen_rbytes"].get<uint64_t>(), c["kernel_rchar"].get<uint64_t>()) << c.dump();
}

// The config file is read before the kernel's counts start: that read is in neither figure.
TEST(Recorder, CoverageLeavesOutTheConfigFileRead) {
  fs::path dir = temp_dir();
  std::ofstream(dir / "valley.toml") << "# " << std::string(3000, 'x') << "\n[coalesce]\n";
  auto t = traced({victim("valley_victim_exited_threads"), dir / "out"},
                  {"VALLEY_CONFIG=" + (dir / "valley.toml").string()});
  fs::remove_all(dir);
  ASSERT_TRUE(t->out.exited(0)) << t->out.describe();
  EXPECT_EQ(t->out.err, "");
  const json& c = t->proc()["coverage"];
  ASSERT_EQ(c["valid"], true) << c.dump();
  EXPECT_EQ(c["seen_reads"], 1001) << c.dump();
  EXPECT_EQ(c["kernel_syscr"], c["seen_reads"]) << c.dump();
  EXPECT_EQ(c["kernel_rchar"], c["seen_rbytes"]) << c.dump();
}

// In the default location (`$TMPDIR/valley-<uid>/pgid-N`) the shim uses valley-<uid> only if
// it is a real directory of ours that nobody else may write to, and says which it is not.
TEST(Recorder, DefaultDirectoryMustBePrivate) {
  const Outcome bare = run({victim("valley_victim_sites")});
  const fs::path tmp = temp_dir();
  const fs::path mine = tmp / ("valley-" + std::to_string(getuid()));
  const fs::path elsewhere = tmp / "elsewhere";
  const fs::path group = mine / ("pgid-" + std::to_string(getpgrp()));
  auto run_default = [&] {
    return run({victim("valley_victim_sites")}, with_env({std::string("LD_PRELOAD=") + VALLEY_SHIM,
                                                          "TMPDIR=" + tmp.string(), "VALLEY_DIR"}));
  };
  auto refused = [&](const fs::path& dir, const std::string& why) {
    SCOPED_TRACE(why);
    const Outcome o = run_default();
    EXPECT_EQ(o.out, bare.out);
    EXPECT_EQ(o.status, bare.status);
    EXPECT_EQ(o.err, "valley: error: refusing the run directory " + dir.string() + ": " + why +
                         "; remove it or set VALLEY_DIR; tracing off\n");
    EXPECT_TRUE(fs::is_empty(elsewhere));
  };
  fs::create_directory(elsewhere);
  fs::create_directory(mine);
  fs::permissions(mine, fs::perms(0777));
  refused(mine, "other users may write to it (mode 0777)");
  EXPECT_TRUE(fs::is_empty(mine));
  fs::permissions(mine, fs::perms(0720));
  refused(mine, "other users may write to it (mode 0720)");
  fs::remove_all(mine);
  fs::create_directory_symlink(elsewhere, mine);
  refused(mine, "it is a symbolic link");
  fs::remove_all(mine);
  std::ofstream(mine) << "planted";
  refused(mine, "it is not a directory");
  fs::remove_all(mine);
  if (geteuid() == 0) {
    fs::create_directory(mine);
    ASSERT_EQ(chown(mine.c_str(), 65534, 65534), 0);
    refused(mine, "it belongs to another user (uid 65534)");
    fs::remove_all(mine);
  }
  // Inside a private valley-<uid>, a planted process-group directory is named as such.
  fs::create_directory(mine);
  fs::permissions(mine, fs::perms(0700));
  fs::create_directory_symlink(elsewhere, group);
  refused(group, "it is a symbolic link");
  fs::remove(group);
  // And a fresh one is made private and used.
  fs::remove_all(mine);
  const Outcome ok = run_default();
  EXPECT_EQ(ok.err, "");
  EXPECT_EQ(ok.out, bare.out);
  struct stat st {};
  ASSERT_EQ(lstat(mine.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(lstat(group.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_FALSE(fs::is_empty(group));
  fs::remove_all(tmp);
}

TEST(Recorder, WritesFromSignalHandlersWhileRecording) {
  // Stacks captured on every call, so handlers also land inside valley's slowest path.
  for (const char* sample : {"VALLEY_STACK_SAMPLE=4096", "VALLEY_STACK_SAMPLE=1"}) {
    SCOPED_TRACE(sample);
    auto t = traced({victim("valley_victim_sigwrite"), "100000"}, {sample});
    ASSERT_TRUE(t->out.exited(0)) << t->out.describe();
    const long handled = std::stol(t->out.err);
    EXPECT_GT(handled, 0);
    EXPECT_EQ(std::count(t->out.out.begin(), t->out.out.end(), '\n'), 100000 + handled);
    const json& p = t->proc();
    EXPECT_EQ(calls(p, "write", "", "main"), 100000u);
    EXPECT_EQ(calls(p, "write", "", "on_alarm"), static_cast<uint64_t>(handled));
    EXPECT_EQ(p["events_total"].get<uint64_t>() + p["events_dropped"].get<uint64_t>(),
              100000u + handled);
  }
}

// A handler that siglongjmps out of valley's write leaves valley's frames behind for good.
// valley does not hook longjmp: the thread's next call finds the abandoned frame gone (its stack
// pointer is above it) and recovers, so later calls are not counted as a handler's, and no other
// thread waits for the jumping one. Under the coalescer the jump may leave from inside the
// buffer: the buffer lock names its holder, who takes it back at its next call.
TEST(Recorder, ALongjmpOutOfAHandlerInsideValleyLeavesNothingEntered) {
  const std::string tail = [] {
    std::string s;
    for (int i = 0; i < 1000; ++i) s += "A\n";
    return s + "T\n";
  }();
  struct Case {
    const char* victim;
    bool coalesce;
  };
  for (const Case c : {Case{"valley_victim_jumper", false}, Case{"valley_victim_jumper_fortified", false},
                       Case{"valley_victim_jumper", true}}) {
    for (const char* mode : {"sig", "plain", "under"}) {
      SCOPED_TRACE(std::string(c.victim) + " " + mode + (c.coalesce ? " coalescing" : ""));
      std::vector<std::string> env;
      if (c.coalesce)
        env = {"VALLEY_COALESCE=1", "VALLEY_COALESCE_KINDS=pipe", "VALLEY_COALESCE_STDIO=1"};
      fs::path dir = temp_dir();
      env.push_back(std::string("LD_PRELOAD=") + VALLEY_SHIM);
      env.push_back("VALLEY_DIR=" + dir.string());
      const Outcome o = run({victim(c.victim), mode}, with_env(env));
      ASSERT_TRUE(o.exited(0)) << o.describe();
      const std::string& out = o.out;
      ASSERT_GE(out.size(), tail.size());
      EXPECT_EQ(out.substr(out.size() - tail.size()), tail);
      const std::string head = out.substr(0, out.size() - tail.size());
      EXPECT_EQ(head.size() % 2, 0u);
      for (size_t i = 0; i + 1 < head.size(); i += 2) {
        if (head.compare(i, 2, "M\n") == 0) continue;
        ADD_FAILURE() << "stdout byte " << i << ": " << head.substr(i, 8);
        break;
      }
      EXPECT_NE(o.err.find("jumps 2000\n"), std::string::npos) << o.err;
      long us = -1;
      const size_t at = o.err.find("thread write ");
      if (at != std::string::npos) us = std::stol(o.err.substr(at + 13));
      EXPECT_GE(us, 0) << o.err;
      EXPECT_LT(us, 500000) << "the new thread's first write waited for the jumping thread";
      const Outcome d = run({VALLEY_BIN, "dump", "--json", "--no-events", dir});
      const json j = json::parse(d.out, nullptr, false);
      ASSERT_FALSE(j.is_discarded()) << d.describe();
      const json& p = j["processes"][0];
      EXPECT_EQ(calls(p, "write", "", "after_jumps"), 1000u);
      EXPECT_EQ(calls(p, "write", "", "worker"), 1u);
      // The handler itself makes no call: no event may look like one of its.
      VevStats v = vev_stats(dir, true);
      EXPECT_EQ(v.problem, "");
      EXPECT_EQ(v.flags[valley::kEventNested], 0u) << "calls after a jump counted as a signal handler's";
      if (c.coalesce) {
        EXPECT_GT(v.flags[valley::kEventCoalesced], 0u) << "the coalescer still buffers after the jumps";
      }
      fs::remove_all(dir);
    }
  }
}

TEST(Recorder, CancellationStillEndsAThreadInWrite) {
  auto t = traced({victim("valley_victim_cancel")});
  EXPECT_TRUE(t->out.exited(0)) << t->out.describe();
  EXPECT_EQ(t->out.out, "cancelled\n");
}

TEST(Recorder, WorksBesideAnotherPreloadedAllocator) {
  const std::string jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
  if (!fs::exists(jemalloc)) GTEST_SKIP() << "libjemalloc2 is not installed";
  Outcome bare = run({victim("valley_victim_sites")});
  for (const std::string& order : {jemalloc + ":" + VALLEY_SHIM, VALLEY_SHIM + (":" + jemalloc)}) {
    SCOPED_TRACE(order);
    fs::path dir = temp_dir();
    Outcome o = run({victim("valley_victim_sites")},
                    with_env({"LD_PRELOAD=" + order, "VALLEY_DIR=" + dir.string()}));
    EXPECT_EQ(o.out, bare.out);
    EXPECT_EQ(o.err, bare.err);
    EXPECT_EQ(o.status, bare.status);
    Outcome d = dump_json(dir);
    json j = json::parse(d.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded());
    EXPECT_EQ(calls(j["processes"][0], "write", "", "emit_row"), 300u);
    fs::remove_all(dir);
  }
}

TEST(Recorder, TenMillionCallsLoseNoEventWithDefaults) {
  fs::path dir = temp_dir();
  std::vector<std::string> env = {std::string("LD_PRELOAD=") + VALLEY_SHIM, "VALLEY_DIR=" + dir.string()};
  Outcome o = run({victim("valley_victim_threads"), "1", "10000000"}, with_env(env));
  ASSERT_TRUE(o.exited(0)) << o.describe();
  Outcome d = run({VALLEY_BIN, "dump", "--json", "--no-events", dir});
  json j = json::parse(d.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << d.describe();
  const json& p = j["processes"][0];
  EXPECT_EQ(calls(p, "write", "chardev", "writer"), 10000000u);
  EXPECT_EQ(p["events_dropped"], 0);
  const VevStats v = vev_stats(dir);
  EXPECT_EQ(v.problem, "");
  EXPECT_EQ(v.records, 10000001u) << "every event (the open, 10M writes) drained into the .vev file";
  fs::remove_all(dir);
}

TEST(Recorder, ExportsOnlyTheWrappedLibcNames) {
  Outcome nm = run({"nm", "-D", "--defined-only", VALLEY_SHIM});
  ASSERT_TRUE(nm.exited(0)) << nm.describe();
  std::set<std::string> exported;
  std::istringstream lines(nm.out);
  for (std::string line; std::getline(lines, line);) {
    std::string addr, type, name;
    std::istringstream(line) >> addr >> type >> name;
    exported.insert(name);
  }
  std::ifstream map(VALLEY_EXPORTS_MAP);
  std::set<std::string> allowed;
  std::string word;
  bool in_global = false;
  while (map >> word) {
    if (word == "global:") in_global = true;
    else if (word == "local:") in_global = false;
    else if (in_global && word.back() == ';') allowed.insert(word.substr(0, word.size() - 1));
  }
  EXPECT_EQ(exported, allowed);
  EXPECT_GT(allowed.size(), 60u);
  Outcome needed = run({"readelf", "-d", VALLEY_SHIM});
  EXPECT_EQ(needed.out.find("libstdc++"), std::string::npos);
  EXPECT_EQ(needed.out.find("libgcc_s"), std::string::npos);
}

TEST(Recorder, BadSettingsLeaveTheProgramUntracedAndUnchanged) {
  Outcome bare = run({victim("valley_victim_sites")});
  for (const char* bad : {"VALLEY_RING_EVENTS=lots", "VALLEY_MAX_FRAMES=0", "VALLEY_DIR=/proc/no/such"}) {
    SCOPED_TRACE(bad);
    fs::path dir = temp_dir();
    std::vector<std::string> env = {std::string("LD_PRELOAD=") + VALLEY_SHIM, "VALLEY_DIR=" + dir.string(), bad};
    Outcome o = run({victim("valley_victim_sites")}, with_env(env));
    EXPECT_EQ(o.out, bare.out);
    EXPECT_EQ(o.status, bare.status);
    EXPECT_TRUE(o.err.starts_with("valley: ")) << o.err;
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
    EXPECT_TRUE(fs::is_empty(dir));
    fs::remove_all(dir);
  }
}

TEST(Recorder, BadCoalesceConfigMeansTracedButNotCoalesced) {
  Outcome bare = run({victim("valley_victim_sites")});
  fs::path cfg_dir = temp_dir();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[advisor]\nmin_calls = 1\n[coalesce]\nenabled = true\nbufer_size = 4096\n",
       "valley.toml:5:1: unknown key 'bufer_size' in [coalesce]"},
      {"[coalesce]\nenabled = true\nmax_age_ms = 0\n",
       "valley.toml:3:14: 'coalesce.max_age_ms' must be an integer in 1..1000 (ms); coalescing "
       "off"},
      {"[coalesce]\nkinds = [\"file\", \"udp\"]\n",
       "valley.toml:2:18: 'coalesce.kinds': unknown kind 'udp'"},
      {"", "cannot read the config file"}};
  for (const auto& [text, message] : cases) {
    SCOPED_TRACE(message);
    fs::path cfg = cfg_dir / "valley.toml";
    fs::remove(cfg);
    if (!text.empty()) std::ofstream(cfg) << text;
    auto t = traced({victim("valley_victim_sites")}, {"VALLEY_CONFIG=" + cfg.string()});
    EXPECT_EQ(t->out.out, bare.out);
    EXPECT_EQ(t->out.status, bare.status);
    EXPECT_EQ(std::count(t->out.err.begin(), t->out.err.end(), '\n'), 1) << t->out.err;
    EXPECT_TRUE(t->out.err.starts_with("valley: error: ")) << t->out.err;
    EXPECT_NE(t->out.err.find(message), std::string::npos) << t->out.err;
    // Traced all the same, and nothing was coalesced.
    EXPECT_EQ(calls(t->proc(), "write", "", "emit_row"), 300u);
    for (const json& e : t->proc()["events"]) EXPECT_EQ(e["flags"].size(), 0u) << e.dump();
  }
  fs::remove_all(cfg_dir);
}

TEST(Recorder, TraceFilesArePrivateWhateverTheUmask) {
  fs::path dir = temp_dir();
  std::vector<std::string> env = {std::string("LD_PRELOAD=") + VALLEY_SHIM,
                                  "VALLEY_DIR=" + (dir / "run").string()};
  Outcome o = run({"sh", "-c", "umask 000; exec \"$0\"", victim("valley_victim_sites")},
                  with_env(env));
  ASSERT_TRUE(o.exited(0)) << o.describe();
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir / "run")) {
    struct stat st {};
    ASSERT_EQ(stat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << e.path();
    ++files;
  }
  EXPECT_GE(files, 2);
  fs::remove_all(dir);
}

TEST(Recorder, FullTmpfsMeansUntracedNotSigbus) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  fs::path mnt = temp_dir();
  // 8 KiB: less than the header, the shard headers and the catch-all counter row.
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=8k") != 0)
    GTEST_SKIP() << "cannot mount tmpfs here";
  Outcome bare = run({victim("valley_victim_sites")});
  std::vector<std::string> env = {std::string("LD_PRELOAD=") + VALLEY_SHIM,
                                  "VALLEY_DIR=" + mnt.string()};
  Outcome o = run({victim("valley_victim_sites")}, with_env(env));
  umount(mnt.c_str());
  fs::remove_all(mnt);
  EXPECT_EQ(o.status, bare.status) << o.describe();
  EXPECT_EQ(o.out, bare.out);
  EXPECT_TRUE(o.err.starts_with("valley: error: cannot reserve space")) << o.err;
}

// Lines of stderr that are not valley's warnings about space (the program's own, or others).
std::string other_lines(const std::string& err) {
  std::istringstream in(err);
  std::string line, other;
  while (std::getline(in, line))
    if (!line.starts_with("valley: warning: cannot grow ") &&
        !line.starts_with("valley: warning: cannot write ") &&
        !line.starts_with("valley: warning: cannot reserve a thread's shard"))
      other += line + "\n";
  return other;
}

// the segment grows page by page; when the file system fills up at any point of that,
// the program runs as it would bare (no SIGBUS, same output and status), valley says so on
// stderr, and the trace it leaves still counts every call (what found no room for its own row
// lands in the catch-all row).
TEST(Recorder, SegmentThatCannotGrowNeverHarmsTheProgram) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  const std::vector<std::string> argv = {victim("valley_victim_threads"), "4", "2000"};
  Outcome bare = run(argv);
  ASSERT_TRUE(bare.exited(0)) << bare.describe();
  int warned = 0;
  for (const char* size : {"20k", "24k", "32k", "40k", "48k", "64k", "96k", "160k", "2m"}) {
    SCOPED_TRACE(size);
    fs::path mnt = temp_dir();
    if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, (std::string("size=") + size).c_str()) != 0)
      GTEST_SKIP() << "cannot mount tmpfs here";
    Outcome o = run(
        argv, with_env({std::string("LD_PRELOAD=") + VALLEY_SHIM, "VALLEY_DIR=" + mnt.string()}));
    Outcome d = dump_json(mnt);
    umount(mnt.c_str());
    fs::remove_all(mnt);
    EXPECT_TRUE(o.exited(0)) << o.describe();
    EXPECT_EQ(o.out, bare.out);
    EXPECT_EQ(other_lines(o.err), "") << o.err;
    warned += !o.err.empty();
    json j = json::parse(d.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << d.describe();
    ASSERT_EQ(j["processes"].size(), 1u) << d.out.substr(0, 400);
    EXPECT_EQ(all_calls(j["processes"][0]), 8001u) << "the open and 4 x 2000 writes";
  }
  EXPECT_GT(warned, 0) << "the small sizes must have run out of room";
}

// Under RLIMIT_FSIZE the segment never grows past the limit (that would raise SIGXFSZ in the
// program): a limit between the tables' end and the first shard body's end leaves every call
// in the shared table, counted all the same. (The tables end at 2,121,728 bytes with the Python
// frames table, the first shard body 264 KiB later.)
TEST(Recorder, FileSizeLimitBelowAShardBodyLeavesCallsInTheSharedTable) {
  fs::path dir = temp_dir();
  const std::vector<std::string> argv = {"prlimit", "--fsize=2250000",
                                         victim("valley_victim_threads"), "2", "5000"};
  Outcome o = run(argv, with_env({std::string("LD_PRELOAD=") + VALLEY_SHIM,
                                  "VALLEY_DIR=" + (dir / "run").string()}));
  EXPECT_TRUE(o.exited(0)) << o.describe();
  EXPECT_EQ(other_lines(o.err), "") << o.err;
  EXPECT_NE(o.err.find("cannot reserve a thread's shard"), std::string::npos) << o.err;
  Outcome d = run({VALLEY_BIN, "dump", "--json", "--no-events", dir / "run"});
  json j = json::parse(d.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << d.describe();
  const json* traced = nullptr;
  for (const json& p : j["processes"])
    if (p["exe"].get<std::string>().ends_with("valley_victim_threads")) traced = &p;
  ASSERT_NE(traced, nullptr) << d.out.substr(0, 400);
  EXPECT_EQ(calls(*traced, "write", "chardev", "writer"), 10000u);
  EXPECT_GE((*traced)["tables"]["counters_used"], 1u) << "rows of the shared table, not of shards";
  fs::remove_all(dir);
}

// A process that makes a few calls leaves a few pages: ≤ 64 KiB on disk for its two files
// (issue 13). /bin/true makes none; valley_victim_threads 91 from two threads, each with a
// shard; valley_victim_sites 303 from three call sites.
TEST(Recorder, SmallProcessesLeaveSmallTraces) {
  for (const auto& [argv, bound] : std::vector<std::pair<std::vector<std::string>, uint64_t>>{
           {{"/bin/true"}, 32 * 1024},
           {{victim("valley_victim_threads"), "1", "90"}, 64 * 1024},
           {{victim("valley_victim_sites")}, 64 * 1024}}) {
    SCOPED_TRACE(argv[0]);
    auto t = traced(argv);
    ASSERT_TRUE(t->out.exited(0)) << t->out.describe();
    uint64_t disk = 0;
    for (const auto& e : fs::directory_iterator(t->dir)) {
      struct stat st {};
      ASSERT_EQ(stat(e.path().c_str(), &st), 0);
      disk += static_cast<uint64_t>(st.st_blocks) * 512;
    }
    EXPECT_LE(disk, bound);
    EXPECT_GT(disk, 0u);
  }
}

// Under the coalescer a loop of identical absorbed writes is stored as run records: every call
// is still counted, each run knows how many calls it stands for, and a run never spans another
// event: neither the program's read between the two loops, nor a flush the flusher thread made
// while the program slept.
TEST(Recorder, AbsorbedLoopsAreStoredAsRunsThatKeepOrderAndCount) {
  for (const bool sleep : {false, true}) {
    SCOPED_TRACE(sleep ? "flushed by age while sleeping" : "read between the loops");
    fs::path dir = temp_dir();
    const std::string out = (dir / "out").string();
    std::vector<std::string> argv = {victim("valley_victim_runs"), out};
    if (sleep) argv.push_back("sleep");
    auto t = traced(argv, {"VALLEY_COALESCE=1"});
    ASSERT_TRUE(t->out.exited(0)) << t->out.describe();
    std::ifstream f(out, std::ios::binary);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f), {}), std::string(1500, 'x'));
    const json& p = t->proc();
    EXPECT_EQ(calls(p, "write", "file", "emit"), 1500u);
    EXPECT_EQ(p["event_calls_total"].get<uint64_t>(), all_calls(p));
    uint64_t before = 0, after = 0, records = 0;
    bool split = false;
    for (const json& e : p["events"]) {
      const json& flags = e["flags"];
      auto has = [&](const char* f) { return std::find(flags.begin(), flags.end(), f) != flags.end(); };
      if (sleep ? has("flush") : e["op"] == "read") split = true;
      if (!has("coalesced")) continue;
      ++records;
      const uint64_t n = e["calls"].get<uint64_t>();
      if (has("run")) {
        EXPECT_GE(n, 2u) << e.dump();
        EXPECT_GE(e["last_ticks"].get<uint64_t>(), e["ticks"].get<uint64_t>()) << e.dump();
      } else {
        EXPECT_EQ(n, 1u) << e.dump();
      }
      (split ? after : before) += n;
    }
    EXPECT_EQ(before, 1000u);
    EXPECT_EQ(after, 500u);
    EXPECT_LE(records, 4u); // one run per loop, give or take a flush inside one
    fs::remove_all(dir);
  }

  // Without the coalescer every call keeps its own record.
  fs::path dir = temp_dir();
  auto plain = traced({victim("valley_victim_runs"), (dir / "out").string()});
  uint64_t write_events = 0;
  for (const json& e : plain->proc()["events"]) {
    EXPECT_EQ(e["calls"], 1) << e.dump();
    write_events += e["op"] == "write";
  }
  EXPECT_EQ(write_events, 1500u);
  fs::remove_all(dir);
}

// Buffering a write that the next call flushes again saves nothing (request/response traffic):
// after 8 such lone buffers an fd is written straight through, and every 64th write tries the
// buffer again, so a bulk phase that follows is buffered after all. The counts are exact.
TEST(Recorder, LoneBuffersTurnCoalescingOffForTheFdUntilABulkPhase) {
  fs::path dir = temp_dir();
  const std::string out = (dir / "out").string();
  auto t = traced({victim("valley_victim_lone"), out}, {"VALLEY_COALESCE=1"});
  ASSERT_TRUE(t->out.exited(0)) << t->out.describe();
  std::ifstream f(out, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f), {}), std::string(50, 'q') + std::string(6400, 'b'));
  const json& p = t->proc();
  EXPECT_EQ(calls(p, "write", "file", "ask"), 50u);
  EXPECT_EQ(calls(p, "write", "file", "bulk"), 6400u);
  uint64_t absorbed = 0, straight = 0, flushed = 0, flushes = 0;
  for (const json& e : p["events"]) {
    if (e["op"] != "write") continue;
    const json& flags = e["flags"];
    auto has = [&](const char* f) { return std::find(flags.begin(), flags.end(), f) != flags.end(); };
    if (has("flush")) {
      flushed += e["result"].get<uint64_t>();
      ++flushes;
    } else {
      (has("coalesced") ? absorbed : straight) += e["calls"].get<uint64_t>();
    }
  }
  EXPECT_EQ(absorbed, 8u + 6379u);
  EXPECT_EQ(straight, 42u + 21u);
  EXPECT_EQ(flushed, absorbed) << "every absorbed byte went out in a flush";
  EXPECT_LE(flushes, 8u + 10u) << "the bulk phase was buffered";
  fs::remove_all(dir);
}
