// SPDX-License-Identifier: MIT
// The coalescer's hazards (docs/hazards.md, B-01 … B-20), one test each: a small C victim
// (victims/) run bare, with VALLEY_COALESCE=1 and under naive/naive.c (preloaded). Each test
// asserts the hazard's expectation holds bare and with the coalescer, that the naive buffer
// breaks it (the test proves it can see the hazard), and that the coalescer really buffered
// something in the run (so a pass is not merely "nothing was coalesced").
#include "modes.h"

#include <gtest/gtest.h>

#include <csignal>
#include <functional>
#include <sstream>
#include <sys/wait.h>

namespace valley::coalesce_test {
namespace {

/// "" when the hazard's expectation held in this run, else what went wrong.
using Check = std::function<std::string(const Result&)>;

class Hazard : public ::testing::Test {
protected:
  Runs runs;
  Result bare{}, coal{}, naive{};
  Evidence ev;

  /// Runs all three modes; the check must pass bare and coalesced and fail naive (unless
  /// naive_breaks is false: a hazard the naive mode cannot show, listed in the README).
  void three(const Spec& spec, const Check& check, bool naive_breaks = true) {
    bare = runs.run(spec, Mode::bare);
    std::string b = check(bare);
    EXPECT_EQ(b, "") << "the expectation does not hold even without valley: " << bare.what();
    coal = runs.run(spec, Mode::coalesce);
    std::string c = check(coal);
    EXPECT_EQ(c, "") << "with VALLEY_COALESCE=1: " << coal.what();
    ev = evidence(coal.dump);
    EXPECT_TRUE(coal.dump.is_object()) << "no readable dump: " << coal.what();
    if (!naive_breaks) return;
    naive = runs.run(spec, Mode::naive);
    std::string n = check(naive);
    EXPECT_NE(n, "") << "the naive buffer should have broken this, so the test cannot see the "
                        "hazard: "
                     << naive.what();
  }

  /// The coalescer absorbed program calls on this fd kind and wrote them with fewer syscalls.
  void expect_coalesced(const std::string& kind, bool fewer = true) {
    EXPECT_GT(ev.absorbed_by_kind[kind], 0u) << "nothing coalesced on " << kind << ": " << ev.str();
    EXPECT_GT(ev.flushes_by_kind[kind], 0u) << "no flush on " << kind << ": " << ev.str();
    if (fewer) {
      EXPECT_LT(ev.flushes_by_kind[kind], ev.absorbed_by_kind[kind])
          << "no fewer syscalls than calls on " << kind << ": " << ev.str();
    }
  }
  /// This fd kind must never be buffered; something else was (the victims' warm-up file).
  void expect_not_coalesced(const std::string& kind) {
    EXPECT_EQ(ev.absorbed_by_kind[kind], 0u) << kind << " was coalesced: " << ev.str();
    EXPECT_EQ(ev.flushes_by_kind[kind], 0u) << kind << " was flushed: " << ev.str();
    EXPECT_GT(ev.absorbed_by_kind["file"], 0u) << "the coalescer was not on at all: " << ev.str();
  }
};

Check exits0 = [](const Result& r) -> std::string {
  return r.exited0() ? "" : "victim: " + r.what();
};

// Exit 0 and exactly this stdout.
Check prints(const std::string& want) {
  return [want](const Result& r) -> std::string {
    if (!r.exited0()) return "victim: " + r.what();
    return r.run.out == want ? "" : "stdout '" + r.run.out.substr(0, 200) + "', expected '" + want.substr(0, 200) + "'";
  };
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

Argv v(const std::string& name, std::vector<std::string> args = {}) {
  Argv a{victim(name)};
  a.insert(a.end(), args.begin(), args.end());
  return a;
}

// Through a shell so that stdout and stderr share one file description; the shell execs the
// victim, which keeps the preload.
Argv to_file(const std::string& name, const std::string& arg, const std::string& redir) {
  return {"sh", "-c", "exec " + victim(name) + " " + arg + " " + redir};
}

// ---- B-01 ordering with writes valley does not see ----

TEST_F(Hazard, B01_StdoutStderrOneFile) {
  std::string want = std::string(20, 'x') + repeat("abc\n", 50);
  three({.stages = {to_file("b01_order", "'2>&1'", ">out 2>&1")}},
        [&](const Result& r) -> std::string {
          if (!r.exited0()) return r.what();
          std::string got = r.file("out");
          return got == want ? "" : "out is '" + got.substr(0, 80) + "…'";
        });
  expect_coalesced("file");
}

TEST_F(Hazard, B01_DupedFd) {
  std::string want = std::string(20, 'x') + repeat("123\n", 50);
  three({.stages = {to_file("b01_order", "dup", ">out")}}, [&](const Result& r) -> std::string {
    if (!r.exited0()) return r.what();
    std::string got = r.file("out");
    return got == want ? "" : "out is '" + got.substr(0, 80) + "…'";
  });
  expect_coalesced("file");
}

// Unbuffered stdio writes through libc's internal write, which valley does not see. The shim's
// answer: fds 0-2 are not buffered unless VALLEY_COALESCE_STDIO=1 (which promises no mixing).
TEST_F(Hazard, B01_UnbufferedStdioSameFd) {
  std::string want = repeat("ABCD\n", 20);
  three({.stages = {to_file("b01_order", "stdio", ">out")},
         .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"},
         .stdio = false},
        [&](const Result& r) -> std::string {
          if (!r.exited0()) return r.what();
          std::string got = r.file("out");
          return got == want ? "" : "out is '" + got.substr(0, 60) + "…'";
        });
  EXPECT_EQ(ev.absorbed_by_kind["file"], 0u) << "stdout was buffered by default: " << ev.str();
}

// ---- B-02 waits valley does not see ----

TEST_F(Hazard, B02_PingPongPipes) {
  three({.stages = {v("b02_deadlock", {"pipes"})}}, exits0);
  expect_coalesced("pipe");
}
TEST_F(Hazard, B02_PingPongTcp) {
  three({.stages = {v("b02_deadlock", {"tcp"})}}, exits0);
  expect_coalesced("tcp");
}
TEST_F(Hazard, B02_WriteThenWaitpid) {
  three({.stages = {v("b02_deadlock", {"waitpid"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        exits0);
  expect_coalesced("pipe");
}
// fgets reads inside libc: only the age bound (5 ms) gets the question out.
TEST_F(Hazard, B02_WriteThenStdioFgets) {
  three({.stages = {v("b02_deadlock", {"fgets"})}}, exits0);
  expect_coalesced("pipe");
}
TEST_F(Hazard, B02_WriteThenCondvarThenPollZero) {
  three({.stages = {v("b02_deadlock", {"condvar"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        exits0);
  expect_coalesced("pipe");
}
// Handover to another process through a signal or a process-shared semaphore: no flush point.
TEST_F(Hazard, B02_HandoffByKill) {
  three({.stages = {v("b02_deadlock", {"kill"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        prints("AB"));
  EXPECT_GT(ev.absorbed_by_kind["pipe"], 0u) << ev.str();
}
TEST_F(Hazard, B02_HandoffBySharedSemaphore) {
  three({.stages = {v("b02_deadlock", {"sem"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        prints("AB"));
  EXPECT_GT(ev.absorbed_by_kind["pipe"], 0u) << ev.str();
}
// Another process watching the file (tail -f): every line visible 60 ms after it was written.
TEST_F(Hazard, B02_TailFollower) {
  three({.stages = {v("b02_deadlock", {"tail"})}}, exits0);
  expect_coalesced("file");
}

// ---- B-03 durability ----

TEST_F(Hazard, B03_FsyncSeesEveryByte) {
  three({.stages = {v("b03_durability", {"fsync"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        exits0);
  expect_coalesced("file");
}
TEST_F(Hazard, B03_ODirectUnchanged) {
  three({.stages = {v("b03_durability", {"odirect"})}}, exits0);
  if (WIFEXITED(bare.status()) && WEXITSTATUS(bare.status()) == 77) GTEST_SKIP() << "no O_DIRECT here";
  EXPECT_EQ(ev.absorbed_by_kind["file"], 16u) << "only the warm-up writes may be coalesced: " << ev.str();
}

// ---- B-04 exit paths ----

class ExitPath : public Hazard, public ::testing::WithParamInterface<const char*> {};
TEST_P(ExitPath, LineReachesThePipe) {
  const std::string mode = GetParam();
  const bool killed = mode == "kill9";
  Spec spec{.stages = {v("b04_exit", {mode})}};
  if (!killed) spec.coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"};
  int want_status = -1;
  three(spec, [&](const Result& r) -> std::string {
    if (r.timed_out()) return r.what();
    if (r.mode == Mode::bare) want_status = r.status();
    std::string want = mode == "daemon" ? "line\ndaemon\n" : "line\n";
    if (r.run.out != want) return "stdout '" + r.run.out + "': " + r.what();
    if (r.status() != want_status) return "ended differently from the bare run: " + r.what();
    return "";
  }, /*naive_breaks=*/mode != "exit"); // exit() runs valley's destructor: the control case
  expect_coalesced("pipe", /*fewer=*/true);
}
INSTANTIATE_TEST_SUITE_P(B04, ExitPath,
                         ::testing::Values("exit", "_exit", "_Exit", "quick_exit", "abort", "segv",
                                           "segv-real", "sigterm", "daemon", "kill9"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s[0] == '_' ? "underscore" + s : s;
                         });

TEST_F(Hazard, B04_UncaughtExceptionTerminate) {
  three({.stages = {v("b04_terminate")}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        [](const Result& r) -> std::string {
          if (!WIFSIGNALED(r.status()) || WTERMSIG(r.status()) != SIGABRT) return "not SIGABRT: " + r.what();
          return r.run.out == "line\n" ? "" : "stdout '" + r.run.out + "'";
        });
  expect_coalesced("pipe");
}
// After valley's final flush, a library destructor's write goes straight through, in order.
TEST_F(Hazard, B04_LibraryDestructorWritesLast) {
  three({.stages = {v("b04_dtor")}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        prints("line\ndtor\n"), /*naive_breaks=*/false); // naive also passes through after its final flush
  expect_coalesced("pipe");
}

// ---- B-05 fork ----

TEST_F(Hazard, B05_ForkChildExits) {
  three({.stages = {v("b05_fork", {"_exit"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        prints("ABC"));
  EXPECT_GT(ev.absorbed_by_kind["pipe"], 0u) << ev.str();
}
TEST_F(Hazard, B05_ForkChildExitsNormally) {
  three({.stages = {v("b05_fork", {"exit"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        prints("ABC"));
  EXPECT_GT(ev.absorbed_by_kind["pipe"], 0u) << ev.str();
}

TEST_F(Hazard, B05_ExecWithBytesPending) {
  three({.stages = {v("b05_fork", {"exec"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        prints("AB"));
  EXPECT_GT(ev.absorbed_by_kind["pipe"], 0u) << ev.str();
}
TEST_F(Hazard, B05_SystemWithBytesPending) {
  three({.stages = {v("b05_fork", {"system"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        prints("ABC"));
  EXPECT_GT(ev.absorbed_by_kind["pipe"], 0u) << ev.str();
}

// A vfork child writes into the parent's buffer (they share memory): its exec must flush it, or
// the bytes land after what the new program prints.
TEST_F(Hazard, B05_VforkChildWritesThenExecs) {
  three({.stages = {v("b05_fork", {"vfork-exec"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        prints("AbBC"));
  EXPECT_GT(ev.absorbed_by_kind["pipe"], 0u) << ev.str();
}
TEST_F(Hazard, B05_VforkChildWritesThenExits) {
  three({.stages = {v("b05_fork", {"vfork-_exit"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        prints("AC"));
  EXPECT_GT(ev.absorbed_by_kind["file"], 0u) << ev.str();
}
TEST_F(Hazard, B05_RawForkChildLeavesTheParentsBytes) {
  // naive flushes only in the destructor, which a child's _exit skips: a control case.
  three({.stages = {v("b05_fork", {"rawfork"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        prints("AC"), /*naive_breaks=*/false);
  EXPECT_GT(ev.absorbed_by_kind["pipe"], 0u) << ev.str();
}
TEST_F(Hazard, B05_UnderscoreForkChildWrites) {
  three({.stages = {v("b05_fork", {"_Fork-write"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        prints("AbC"));
  EXPECT_GT(ev.absorbed_by_kind["pipe"], 0u) << ev.str();
}
TEST_F(Hazard, B05_UnderscoreForkChildExecs) {
  three({.stages = {v("b05_fork", {"_Fork-exec"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        prints("ABC"));
  EXPECT_GT(ev.absorbed_by_kind["pipe"], 0u) << ev.str();
}

// ---- B-06 fd lifetime ----

Check files(std::string a, std::string b) {
  return [a, b](const Result& r) -> std::string {
    if (!r.exited0()) return r.what();
    if (r.file("A") != a || r.file("B") != b)
      return "A='" + r.file("A") + "' B='" + r.file("B") + "', expected A='" + a + "' B='" + b + "'";
    return "";
  };
}
TEST_F(Hazard, B06_CloseInsideLibcThenReuse) {
  three({.stages = {v("b06_lifetime", {"reuse"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        files("x", "y"));
  EXPECT_GT(ev.absorbed_by_kind["file"], 0u) << ev.str();
}
TEST_F(Hazard, B06_Dup2OverBufferedFd) {
  three({.stages = {v("b06_lifetime", {"dup2"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        files("1", "2"));
  EXPECT_GT(ev.absorbed_by_kind["file"], 0u) << ev.str();
}
TEST_F(Hazard, B06_Closefrom) {
  three({.stages = {v("b06_lifetime", {"closefrom"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        files("data", "more"));
  EXPECT_GE(ev.absorbed_by_kind["file"], 3u) << "valley stopped buffering after closefrom: " << ev.str();
}

// ---- B-07 positioned and metadata operations ----

class Positioned : public Hazard, public ::testing::WithParamInterface<const char*> {};
TEST_P(Positioned, SeesPendingBytes) {
  const std::string mode = GetParam();
  three({.stages = {v("b07_position", {mode})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        [&](const Result& r) -> std::string {
          if (!r.exited0()) return r.what();
          if (mode == "ftruncate" && r.file("f").size() != 100)
            return "f has " + std::to_string(r.file("f").size()) + " bytes after ftruncate(100)";
          if (mode == "copy_file_range" && r.file("g") != r.file("f")) return "g differs from f";
          return "";
        });
  expect_coalesced("file");
}
INSTANTIATE_TEST_SUITE_P(B07, Positioned,
                         ::testing::Values("counter", "lseek", "fstat", "mmap", "copy_file_range",
                                           "pread", "ftruncate"),
                         [](const auto& info) { return std::string(info.param) == "copy_file_range" ? "copyfilerange" : std::string(info.param); });

// ---- B-08 O_APPEND writers ----

TEST_F(Hazard, B08_AppendRecordsIntact) {
  three({.stages = {v("b08_append", {"10000"})}}, [](const Result& r) -> std::string {
    if (!r.exited0()) return r.what();
    std::string f = r.file("app");
    if (f.size() != 4000000) return "app has " + std::to_string(f.size()) + " bytes, not 4000000";
    int next[4] = {0, 0, 0, 0};
    for (size_t at = 0; at < f.size(); at += 100) {
      int p = f[at] - '0';
      if (p < 0 || p > 3 || f[at + 99] != '\n' || std::stoi(f.substr(at + 2, 6)) != next[p])
        return "torn or reordered record at byte " + std::to_string(at);
      for (size_t i = at + 9; i < at + 99; ++i)
        if (f[i] != 'a' + p) return "torn record at byte " + std::to_string(at);
      ++next[p];
    }
    return "";
  }, /*naive_breaks=*/false); // naive never splits a write: see README
  expect_coalesced("file");
}

// ---- B-09 pipes ----

TEST_F(Hazard, B09_PipeBufAtomicity) {
  three({.stages = {v("b09_pipes", {"torn"})}}, exits0);
  expect_coalesced("pipe");
  EXPECT_LE(ev.max_flush_by_kind["pipe"], 4096u) << "a pipe flush larger than PIPE_BUF: " << ev.str();
}
TEST_F(Hazard, B09_PipeBufAtomicityFifo) {
  three({.stages = {v("b09_pipes", {"torn", "fifo"})}}, exits0);
  expect_coalesced("fifo");
  EXPECT_LE(ev.max_flush_by_kind["fifo"], 4096u) << "a fifo flush larger than PIPE_BUF: " << ev.str();
}
TEST_F(Hazard, B09_DupOfAFullPipeKeepsOrder) {
  three({.stages = {v("b09_pipes", {"dup-full"})}, .timeout_seconds = 15}, exits0);
  expect_coalesced("pipe", /*fewer=*/false);
}
TEST_F(Hazard, B09_PacketModePipe) {
  three({.stages = {v("b09_pipes", {"packet"})}}, exits0);
  EXPECT_EQ(ev.absorbed_by_kind["pipe"], 0u) << ev.str();
}

// ---- B-10 non-blocking ----

class NonBlocking : public Hazard, public ::testing::WithParamInterface<const char*> {};
TEST_P(NonBlocking, SameBytesBeforeEagain) {
  std::string want;
  three({.stages = {v("b10_nonblock", {GetParam()})}}, [&](const Result& r) -> std::string {
    if (!r.exited0()) return r.what();
    if (r.mode == Mode::bare) want = r.run.out;
    return r.run.out == want ? "" : "'" + r.run.out + "', without valley '" + want + "'";
  });
  if (std::string(GetParam()) == "toggle") {
    expect_coalesced("pipe");
    EXPECT_EQ(ev.absorbed_by_kind["pipe"], 50u) << "writes after O_NONBLOCK were buffered: " << ev.str();
  } else {
    expect_not_coalesced("unix-stream");
  }
}
INSTANTIATE_TEST_SUITE_P(B10, NonBlocking, ::testing::Values("nonblock", "toggle"));

// ---- B-11 errors ----

TEST_F(Hazard, B11_DevFull) {
  three({.stages = {v("b11_errors", {"devfull"})}}, exits0);
  expect_not_coalesced("chardev");
}
// Successful writes after the reader has gone: within 1 of the unmodified program.
TEST_F(Hazard, B11_EpipeWhereTheProgramWrites) {
  long base = -1;
  three({.stages = {v("b11_errors", {"epipe"})}}, [&](const Result& r) -> std::string {
    if (!r.exited0()) return r.what();
    long n = -1;
    char err[32] = {0};
    if (std::sscanf(r.run.out.c_str(), "writes_after_reader_left=%ld errno=%31s", &n, err) != 2)
      return "output '" + r.run.out + "'";
    if (std::string(err) != "EPIPE") return "ended with " + std::string(err) + ", not EPIPE";
    if (r.mode == Mode::bare) base = n;
    return std::labs(n - base) <= 1 ? "" : std::to_string(n) + " writes succeeded, " + std::to_string(base) + " without valley";
  });
  expect_coalesced("pipe", /*fewer=*/false); // the request before the reader left
}
// SIGPIPE's default action: a writer whose reader has left dies of it, at the latest within
// one buffer's worth of writes, even when it then leaves through _exit.
TEST_F(Hazard, B11_SigpipeDefault) {
  three({.stages = {v("b11_errors", {"sigpipe"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=5"}},
        [](const Result& r) -> std::string {
          if (!r.exited0()) return r.what();
          long sig = -1, n = -1;
          if (std::sscanf(r.run.out.c_str(), "writer signal %ld, writes after the reader left %ld", &sig, &n) != 2)
            return "writer did not die of a signal: '" + r.run.out + "'";
          if (sig != SIGPIPE) return "writer died of signal " + std::to_string(sig);
          return n <= 65536 ? "" : std::to_string(n) + " writes survived";
        });
  EXPECT_EQ(bare.run.out, "writer signal 13, writes after the reader left 0\n");
  EXPECT_GT(ev.absorbed_by_kind["pipe"], 0u) << ev.str();
}
// The same, but the writer makes no further call on the pipe after its writes (it sleeps,
// then leaves): the age bound flushes on the flusher thread, and the SIGPIPE it owes the
// program must still end the program.
TEST_F(Hazard, B11_SigpipeDefaultNoFurtherCall) {
  three({.stages = {v("b11_errors", {"sigpipe", "late"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=5"}},
        [](const Result& r) -> std::string {
          if (!r.exited0()) return r.what();
          long sig = -1, n = -1;
          if (std::sscanf(r.run.out.c_str(), "writer signal %ld, writes after the reader left %ld", &sig, &n) != 2)
            return "writer did not die of a signal: '" + r.run.out + "'";
          if (sig != SIGPIPE) return "writer died of signal " + std::to_string(sig);
          return n <= 65536 ? "" : std::to_string(n) + " writes survived";
        });
  EXPECT_GT(ev.absorbed_by_kind["pipe"], 0u) << ev.str();
}
// RLIMIT_FSIZE: EFBIG at the same write index, and the same file.
TEST_F(Hazard, B11_FsizeSameWriteIndex) {
  std::string want;
  three({.stages = {v("b11_errors", {"fsize"})}}, [&](const Result& r) -> std::string {
    if (!r.exited0()) return r.what();
    if (r.mode == Mode::bare) want = r.run.out;
    if (r.file("big").size() != 2000) return "big has " + std::to_string(r.file("big").size()) + " bytes";
    return r.run.out == want ? "" : "'" + r.run.out + "', without valley '" + want + "'";
  });
  EXPECT_EQ(bare.run.out, "first_failure=20 errno=EFBIG close=0\n");
}
TEST_F(Hazard, B11_FsizeSignal) {
  three({.stages = {v("b11_errors", {"fsize-signal"})}}, [](const Result& r) -> std::string {
    if (r.timed_out()) return r.what();
    if (!WIFSIGNALED(r.status()) || WTERMSIG(r.status()) != SIGXFSZ) return "not killed by SIGXFSZ: " + r.what();
    return r.file("big").size() == 2000 ? "" : "big has " + std::to_string(r.file("big").size()) + " bytes";
  }, /*naive_breaks=*/false);
  // The shim's rule: no buffering of files under a finite RLIMIT_FSIZE.
  EXPECT_EQ(ev.absorbed_by_kind["file"], 0u) << ev.str();
}

// ---- B-12 messages ----

TEST_F(Hazard, B12_Udp) {
  three({.stages = {v("b12_messages", {"udp"})}}, exits0);
  expect_not_coalesced("udp");
}
TEST_F(Hazard, B12_Seqpacket) {
  three({.stages = {v("b12_messages", {"seqpacket"})}}, exits0);
  expect_not_coalesced("unix-seqpacket");
}
TEST_F(Hazard, B12_ScmRights) {
  std::string want;
  three({.stages = {v("b12_messages", {"scm_rights"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        [&](const Result& r) -> std::string {
          if (!r.exited0()) return r.what();
          if (r.mode == Mode::bare) want = r.run.out;
          return r.run.out == want ? "" : "'" + r.run.out + "', without valley '" + want + "'";
        });
  EXPECT_GT(ev.absorbed_by_kind["unix-stream"], 0u) << ev.str();
}

// ---- B-13 special fds ----

TEST_F(Hazard, B13_Eventfd) {
  three({.stages = {v("b13_special", {"eventfd"})}}, exits0);
  expect_not_coalesced("eventfd");
}
TEST_F(Hazard, B13_ProcComm) {
  three({.stages = {v("b13_special", {"comm"})}}, exits0);
  expect_not_coalesced("procfs");
}

// ---- B-14 terminals ----

TEST_F(Hazard, B14_PromptBeforeRead) {
  three({.stages = {v("b14_terminal")}}, exits0);
  expect_not_coalesced("tty");
}

// ---- B-15 threads ----

TEST_F(Hazard, B15_ThreadsOnePipe) {
  three({.stages = {v("b15_threads")}, .timeout_seconds = 15}, exits0);
  expect_coalesced("pipe");
}
// A thread's first call revokes the main thread's window: it must not wait for a window that
// is blocked in a flush into a pipe only this thread drains (or flush the same bytes again).
TEST_F(Hazard, B15_FirstReadWhileMainBlocksInFlush) {
  three({.stages = {v("b15_threads", {"late-reader"})}, .timeout_seconds = 15}, exits0);
  expect_coalesced("pipe");
}

// ---- B-16 signal handlers ----

TEST_F(Hazard, B16_HandlerWritesSamePipe) {
  // naive takes its lock the same way as the coalescer (marked before locking), so its
  // handler writes go straight through too: counts stay exact.
  three({.stages = {v("b16_signal")}, .timeout_seconds = 15}, exits0, /*naive_breaks=*/false);
  expect_coalesced("pipe");
}

// ---- B-17 latency ----

TEST_F(Hazard, B17_MaxDelayWithinAgeBound) {
  // The hazard's bound: the age (5 ms) + 5 ms, on top of the delay the machine shows without
  // valley in the same test (a loaded machine adds its own wake-up latency: 7-8 ms measured
  // bare with two CPU hogs on two cores). The flusher sleeps until the oldest byte is due, so a
  // byte waits the age plus a wake-up (5.5-6.5 ms worst measured idle). The 99th percentile is
  // held to that bound; the single worst record, which one preemption of the flusher decides
  // (27 ms once, with a compiler running beside `ctest -j2`), gets 100 ms: enough to catch a
  // flusher that stops. The victim fails beyond 200 ms, and the naive buffer holds every
  // record until exit (about 0.5 s).
  uint64_t bare_max = 0, bare_p99 = 0;
  three({.stages = {v("b17_latency", {"200000", "500"})}, .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=5"}},
        [&](const Result& r) -> std::string {
          if (!r.exited0()) return "victim: " + r.what();
          const size_t at = r.run.out.find("max_delay_us="), at99 = r.run.out.find("p99_delay_us=");
          if (at == std::string::npos || at99 == std::string::npos) return "no delays in: " + r.what();
          const uint64_t max = std::stoull(r.run.out.substr(at + 13));
          const uint64_t p99 = std::stoull(r.run.out.substr(at99 + 13));
          if (r.mode == Mode::bare) {
            bare_max = max;
            bare_p99 = p99;
          } else if (p99 > bare_p99 + 10000 || max > bare_max + 100000) {
            return "delays (99th percentile, worst) " + std::to_string(p99) + ", " + std::to_string(max) +
                   " us against bare " + std::to_string(bare_p99) + ", " + std::to_string(bare_max) +
                   " us: more than 10 ms, 100 ms over";
          }
          return "";
        });
  expect_coalesced("pipe", /*fewer=*/false);
}

// ---- B-18 found by CPython's test suite with every stream kind coalesced ----

// B-18.1: shutdown(SHUT_WR) sends EOF behind the buffered bytes, and ends buffering on the fd.
class Shutdown : public Hazard, public ::testing::WithParamInterface<const char*> {};
TEST_P(Shutdown, PeerReadsEveryByteBeforeEof) {
  three({.stages = {v("b18_shutdown", {GetParam()})}}, exits0);
  expect_coalesced(std::string(GetParam()) == "tcp" ? "tcp" : "unix-stream");
}
INSTANTIATE_TEST_SUITE_P(B18_1, Shutdown, ::testing::Values("tcp", "unix"));

// B-18.2: the blocking mode changed through ioctl(FIONBIO), a dup, or another process: what
// the program was told was written is what the peer receives.
class ModeChanged : public Hazard, public ::testing::WithParamInterface<const char*> {};
TEST_P(ModeChanged, AcceptedBytesAllArrive) {
  three({.stages = {v("b18_nonblock", {GetParam()})}}, [](const Result& r) -> std::string {
    if (!r.exited0()) return r.what();
    long accepted = -1, received = -2;
    if (std::sscanf(r.run.out.c_str(), "accepted=%ld received=%ld", &accepted, &received) != 2)
      return "output '" + r.run.out + "'";
    return accepted == received ? "" : r.run.out;
  });
  expect_coalesced("unix-stream");
}
INSTANTIATE_TEST_SUITE_P(B18_2, ModeChanged, ::testing::Values("ioctl", "dup", "child"));

// B-18.3: a semaphore posted under a lock the pipe's reader needs: no deadlock, and the posted
// message is readable at once.
TEST_F(Hazard, B18_3_SemPostUnderTheReadersLock) {
  three({.stages = {v("b18_lockpost")}, .timeout_seconds = 20}, exits0);
  expect_coalesced("pipe");
}

// B-18.4: SIGTERM ends a writer stuck on a full pipe, whether the writer itself or the flusher
// thread holds the buffer. The naive mode installs no fatal-signal handler, so it cannot hang
// here: a control.
class FatalSignal : public Hazard, public ::testing::WithParamInterface<const char*> {};
TEST_P(FatalSignal, SigtermEndsAStuckWriter) {
  three(
      {.stages = {v("b18_fatal", {GetParam()})}},
      [](const Result& r) -> std::string { return r.exited0() ? "" : r.what(); },
      /*naive_breaks=*/false);
  EXPECT_GT(ev.absorbed_by_kind["pipe"], 0u) << ev.str();
}
INSTANTIATE_TEST_SUITE_P(B18_4, FatalSignal, ::testing::Values("write", "flusher"));

// B-18.5: a child's bytes reach the pipe before it signals itself to death.
class SelfSignal : public Hazard, public ::testing::WithParamInterface<const char*> {};
TEST_P(SelfSignal, ChildsBytesBeforeSigkill) {
  three({.stages = {v("b18_raise", {GetParam()})},
         .coalesce_env = {"VALLEY_COALESCE_MAX_AGE_MS=1000"}},
        prints(std::string(10, 'p') + std::string(20, 'c') + std::string(30, 'q')));
  EXPECT_GT(ev.absorbed_by_kind["pipe"], 0u) << ev.str();
}
INSTANTIATE_TEST_SUITE_P(B18_5, SelfSignal,
                         ::testing::Values("raise", "tgkill", "pthread_kill", "kill"));

// B-18.7: a process whose last thread is not main ends when that thread ends, as it does bare,
// with every byte out. The naive mode has no flusher thread, so it cannot hang here: a control.
class LastThread : public Hazard, public ::testing::WithParamInterface<const char*> {};
TEST_P(LastThread, ProcessEndsWithItsLastThread) {
  const std::string mode = GetParam();
  three({.stages = {v("b18_lastthread", {mode})},
         .coalesce_env = {"VALLEY_COALESCE_KINDS=pipe"}},
        prints(mode == "pthread_exit"
                   ? std::string(10, 'p') + std::string(20, 'w')
                   : std::string(10, 'p') + std::string(20, 'c') + std::string(30, 'q')),
        /*naive_breaks=*/false);
  EXPECT_GT(ev.absorbed_by_kind["pipe"], 0u) << ev.str();
  // Each process's coverage is its own: the writes valley saw are the ones the kernel counted
  // (a forked child does not inherit its parent's absorbed calls).
  ASSERT_TRUE(coal.dump.contains("processes")) << coal.dump.dump();
  for (const json& t : coal.dump["processes"]) {
    const json& c = t["coverage"];
    EXPECT_EQ(c["seen_writes"], c["kernel_syscw"]) << t["pid"] << " " << c.dump();
    EXPECT_EQ(c["seen_wbytes"], c["kernel_wchar"]) << t["pid"] << " " << c.dump();
  }
}
INSTANTIATE_TEST_SUITE_P(B18_7, LastThread, ::testing::Values("pthread_exit", "fork_from_thread"));

// B-19: reads of another regular file and of /dev/zero between the writes do not flush the
// buffer (a few flushes for 2000 writes, not one per write), and a read of the same file
// through another fd still sees every byte written.
TEST_F(Hazard, B19_ReadsThatCannotSeeTheBufferKeepIt) {
  three({.stages = {v("b19_reads")}}, prints("seen=2000\n"));
  expect_coalesced("file");
  EXPECT_LT(ev.flushes_by_kind["file"], 200u) << ev.str();
}

// B-20: a semaphore that is not process-shared is no flush point (a few flushes for 1000
// posts), and the thread it wakes still sees every byte when it reads the file.
TEST_F(Hazard, B20_PrivateSemaphorePostKeepsTheBuffer) {
  three({.stages = {v("b20_private_sem")}}, prints("seen=1000\n"));
  expect_coalesced("file");
  EXPECT_LT(ev.flushes_by_kind["file"], 100u) << ev.str();
}

} // namespace
} // namespace valley::coalesce_test
