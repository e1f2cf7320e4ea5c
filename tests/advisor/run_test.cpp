// SPDX-License-Identifier: MIT
// The built `valley run`: exit status and death signal passed through, stdio untouched,
// environment for the preload, run-directory rules, bad arguments. VALLEY_SHIM points at an
// empty shared object so these do not depend on the shim; with the real shim built, the last
// test also checks that traces appear and dump cleanly.
#include "subprocess.h"
#include "trace_builder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <regex>

#include <sys/stat.h>
#include <unistd.h>

using valley::testing::Child;
using valley::testing::Outcome;
using valley::testing::read_file;
using valley::testing::run;
using valley::testing::SpawnOptions;
using valley::testing::TempDir;
using valley::testing::write_file;
namespace fs = std::filesystem;

namespace {

const std::string kShimEnv = std::string("VALLEY_SHIM=") + VALLEY_EMPTY_PRELOAD;

std::vector<std::string> valley_run(std::vector<std::string> args) {
  args.insert(args.begin(), {VALLEY_BIN, "run"});
  return args;
}

SpawnOptions with_shim(SpawnOptions o = {}) {
  o.env.push_back(kShimEnv);
  return o;
}

class RunTest : public ::testing::Test {
protected:
  TempDir tmp;
  std::string dir(const std::string& name = "run") const { return (tmp.path() / name).string(); }
  std::string summary(const std::string& cmd, const std::string& d, const std::string& how = "") {
    return "valley: traced 0 processes of " + cmd + " in " + d + how +
           ", 0 B on disk (0 B apparent) — see: valley report " + d + "\n";
  }
};

TEST_F(RunTest, ExitStatusPassesThrough) {
  Outcome r = run(valley_run({"--dir", dir(), "--", "sh", "-c", "exit 3"}), with_shim());
  EXPECT_TRUE(r.exited(3)) << r.describe();
  EXPECT_EQ(r.err, summary("sh", dir()));
  EXPECT_TRUE(fs::is_directory(dir()));
}

TEST_F(RunTest, CommandWithoutDoubleDash) {
  Outcome r = run(valley_run({"--dir", dir(), "sh", "-c", "exit 0"}), with_shim());
  EXPECT_TRUE(r.exited(0)) << r.describe();
}

TEST_F(RunTest, DiesFromTheSignalThatKilledTheChild) {
  Outcome r = run(valley_run({"--dir", dir(), "--", "sh", "-c", "kill -TERM $$"}), with_shim());
  EXPECT_TRUE(r.signaled(SIGTERM)) << r.describe();
  EXPECT_EQ(r.err, summary("sh", dir(), " (killed by SIGTERM)"));

  Outcome segv =
      run(valley_run({"--dir", dir("segv"), "--", "sh", "-c", "kill -SEGV $$"}), with_shim());
  EXPECT_TRUE(segv.signaled(SIGSEGV)) << segv.describe();
  EXPECT_FALSE(WCOREDUMP(segv.status)) << "valley must not dump core for its child's crash";
}

TEST_F(RunTest, WaitsEvenWhenStartedWithSigchldIgnored) {
  // An ignored SIGCHLD survives exec and would make the kernel reap the child unseen. (bash:
  // dash does not really ignore CHLD for a trap ''.)
  Outcome r = run({"bash", "-c", "trap '' CHLD; exec \"$0\" run --dir \"$1\" -- sh -c 'exit 4'",
                   VALLEY_BIN, dir()},
                  with_shim());
  EXPECT_TRUE(r.exited(4)) << r.describe();
}

TEST_F(RunTest, StdinStdoutAndStderrAreUntouched) {
  std::string bytes;
  for (int i = 0; i < 200000; ++i)
    bytes += static_cast<char>(i * 7 % 256);
  SpawnOptions o = with_shim();
  o.input = bytes;
  Outcome r = run(valley_run({"--dir", dir(), "--", "sh", "-c", "cat; echo to-stderr >&2"}), o);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out.size(), bytes.size());
  EXPECT_TRUE(r.out == bytes) << "stdout differs from stdin";
  EXPECT_EQ(r.err, "to-stderr\n" + summary("sh", dir()));
}

TEST_F(RunTest, ChildGetsPreloadAndRunDirectory) {
  SpawnOptions o = with_shim();
  o.env.push_back(std::string("LD_PRELOAD=") + VALLEY_EMPTY_PRELOAD);
  // valley itself now starts with a preload; an ASan build of it would refuse that.
  o.env.push_back("ASAN_OPTIONS=verify_asan_link_order=0");
  o.env.push_back("VALLEY_DIR=/somewhere/else");
  Outcome r = run(valley_run({"--dir", dir("a/b/c"), "--", "sh", "-c",
                              "printf '%s|%s' \"$VALLEY_DIR\" \"$LD_PRELOAD\""}),
                  o);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  std::string shim = fs::canonical(VALLEY_EMPTY_PRELOAD).string();
  EXPECT_EQ(r.out, dir("a/b/c") + "|" + shim + ":" + VALLEY_EMPTY_PRELOAD);
}

TEST_F(RunTest, RefusesANonEmptyDirectoryAndTouchesNothing) {
  fs::create_directories(dir());
  write_file(dir() + "/keep", "precious");
  Outcome r = run(valley_run({"--dir", dir(), "--", "touch", dir() + "/ran"}), with_shim());
  EXPECT_TRUE(r.exited(2)) << r.describe();
  EXPECT_EQ(r.err.rfind(
                "valley: error: " + dir() + " exists and is not empty; choose another --dir\n", 0),
            0u)
      << r.err;
  EXPECT_EQ(read_file(dir() + "/keep"), "precious");
  EXPECT_FALSE(fs::exists(dir() + "/ran")) << "the command must not run";
}

TEST_F(RunTest, AcceptsAnEmptyExistingDirectory) {
  fs::create_directories(dir());
  Outcome r = run(valley_run({"--dir=" + dir(), "--", "true"}), with_shim());
  EXPECT_TRUE(r.exited(0)) << r.describe();
}

TEST_F(RunTest, DefaultDirectoryIsNewAndNamedAfterTheCommand) {
  SpawnOptions o = with_shim();
  o.cwd = tmp.path().string();
  Outcome r = run(valley_run({"--", "/bin/true"}), o);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m,
                                std::regex("in \\./(valley\\.true\\.[0-9]+), 0 B on disk \\(0 B "
                                           "apparent\\) — see: valley report "
                                           "\\./valley\\.true\\.[0-9]+\n$")))
      << r.err;
  EXPECT_TRUE(fs::is_directory(tmp.path() / m[1].str()));
}

TEST_F(RunTest, BadArgumentsExitTwoAndCreateNothing) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {}, {"--dir"}, {"--dir", dir()}, {"--bogus", "true"}, {"--dir=", "true"}, {"--", ""}}) {
    Outcome r = run(valley_run(args), with_shim());
    EXPECT_TRUE(r.exited(2)) << r.describe();
    EXPECT_EQ(r.err.rfind("valley: error: run: ", 0), 0u) << r.err;
    EXPECT_FALSE(fs::exists(dir()));
  }
}

// A command that cannot be started leaves nothing behind and is not called a traced run.
TEST_F(RunTest, UnrunnableCommandsExitLikeAShellAndLeaveNoRunDirectory) {
  Outcome missing = run(valley_run({"--dir", dir("a/b"), "--", "/nonexistent/cmd"}), with_shim());
  EXPECT_TRUE(missing.exited(127)) << missing.describe();
  EXPECT_EQ(missing.err, "valley: error: /nonexistent/cmd could not be started: No such file or "
                         "directory; nothing was traced\n");
  EXPECT_FALSE(fs::exists(dir("a"))) << "the directories valley made for the run are taken back";

  std::string script = (tmp.path() / "not-executable").string();
  write_file(script, "#!/bin/sh\n");
  ::chmod(script.c_str(), 0644);
  Outcome denied = run(valley_run({"--dir", dir("d2"), "--", script}), with_shim());
  EXPECT_TRUE(denied.exited(126)) << denied.describe();
  EXPECT_EQ(denied.err, "valley: error: " + script +
                            " could not be started: Permission denied; nothing was traced\n");
  EXPECT_FALSE(fs::exists(dir("d2")));

  // Found on no PATH entry, in the default directory: no ./valley.* is left.
  SpawnOptions o = with_shim();
  o.cwd = tmp.path().string();
  Outcome unknown = run(valley_run({"--", "valley-no-such-program"}), o);
  EXPECT_TRUE(unknown.exited(127)) << unknown.describe();
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(tmp.path()))
    left.push_back(e.path().filename());
  EXPECT_EQ(left, std::vector<std::string>{"not-executable"});

  // A directory the user made is left where it was.
  fs::create_directories(dir("mine"));
  Outcome kept = run(valley_run({"--dir", dir("mine"), "--", "/nonexistent/cmd"}), with_shim());
  EXPECT_TRUE(kept.exited(127)) << kept.describe();
  EXPECT_TRUE(fs::is_directory(dir("mine")));
}

// The run directory and the parents valley makes for it are 0700 whatever the umask: the
// traces hold command lines and file names (as the shim's own files are 0600).
TEST_F(RunTest, RunDirectoriesArePrivateUnderAnyUmask) {
  Outcome given =
      run({"sh", "-c", "umask 000; exec \"$0\" run --dir \"$1\" -- true", VALLEY_BIN, dir("p/q")},
          with_shim());
  ASSERT_TRUE(given.exited(0)) << given.describe();
  for (const std::string& d : {dir("p"), dir("p/q")}) {
    struct stat st {};
    ASSERT_EQ(::stat(d.c_str(), &st), 0) << d;
    EXPECT_EQ(st.st_mode & 07777, 0700u) << d;
  }
  SpawnOptions o = with_shim();
  o.cwd = tmp.path().string();
  Outcome dflt = run({"sh", "-c", "umask 000; exec \"$0\" run -- /bin/true", VALLEY_BIN}, o);
  ASSERT_TRUE(dflt.exited(0)) << dflt.describe();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dflt.err, m, std::regex("in \\./(valley\\.true\\.[0-9]+), ")))
      << dflt.err;
  struct stat st {};
  ASSERT_EQ(::stat((tmp.path() / m[1].str()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_F(RunTest, MissingShimIsAnErrorBeforeAnythingIsCreated) {
  SpawnOptions o;
  o.env.push_back("VALLEY_SHIM=" + (tmp.path() / "no-such-lib.so").string());
  Outcome r = run(valley_run({"--dir", dir(), "--", "true"}), o);
  EXPECT_TRUE(r.exited(1)) << r.describe();
  EXPECT_EQ(r.err.rfind("valley: error: cannot find libvalley.so at " +
                            (tmp.path() / "no-such-lib.so").string(),
                        0),
            0u)
      << r.err;
  EXPECT_FALSE(fs::exists(dir()));
}

TEST_F(RunTest, IgnoresSigintAndForwardsSigterm) {
  Child c(valley_run({"--dir", dir(), "--", "sh", "-c",
                      "trap 'echo got-term; exit 7' TERM; echo ready; "
                      "while :; do sleep 0.05; done"}),
          with_shim());
  ASSERT_TRUE(c.wait_for_output("ready\n", 10));
  // Sent to valley alone, as a terminal's ^C also reaches the child, which decides.
  ASSERT_EQ(::kill(c.pid(), SIGINT), 0);
  ::usleep(200 * 1000);
  ASSERT_EQ(::kill(c.pid(), SIGTERM), 0);
  Outcome r = c.wait(10);
  EXPECT_TRUE(r.exited(7)) << r.describe();
  EXPECT_EQ(r.out, "ready\ngot-term\n");
}

#ifdef VALLEY_REAL_SHIM
// With the real libvalley.so: every process of the tree leaves a trace that dumps cleanly.
TEST_F(RunTest, RealShimLeavesTracesThatDump) {
  SpawnOptions o;
  o.env.push_back(std::string("VALLEY_SHIM=") + VALLEY_REAL_SHIM);
  Outcome r = run(valley_run({"--dir", dir(), "--", "sh", "-c", "echo hi; /bin/echo there"}), o);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out, "hi\nthere\n");
  EXPECT_NE(r.err.find("valley: traced "), std::string::npos);
  EXPECT_EQ(r.err.find("traced 0 processes"), std::string::npos) << r.err;
  Outcome d = run({VALLEY_BIN, "dump", dir()});
  EXPECT_TRUE(d.exited(0)) << d.describe();

  // The closing line gives the directory's size on disk and apparent, as du would.
  uint64_t apparent = 0, on_disk = 0;
  for (const auto& e : fs::directory_iterator(dir())) {
    struct stat st {};
    ASSERT_EQ(::lstat(e.path().c_str(), &st), 0);
    apparent += static_cast<uint64_t>(st.st_size);
    on_disk += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m,
                                std::regex(", ([0-9.]+) (B|KiB|MiB|GiB) on disk \\(([0-9.]+) "
                                           "(B|KiB|MiB|GiB) apparent\\) — see")))
      << r.err;
  auto bytes = [](const std::string& v, const std::string& unit) {
    const double scale = unit == "B" ? 1 : unit == "KiB" ? 1024 : unit == "MiB" ? 1 << 20 : 1 << 30;
    return std::stod(v) * scale;
  };
  // One decimal: within 5% of a unit (and exact below 1 KiB).
  EXPECT_NEAR(bytes(m[1], m[2]), static_cast<double>(on_disk), 0.05 * bytes("1", m[2]) + 0.5);
  EXPECT_NEAR(bytes(m[3], m[4]), static_cast<double>(apparent), 0.05 * bytes("1", m[4]) + 0.5);
  EXPECT_LT(on_disk, apparent) << "segments are sparse";
}

// --only: cat is traced two untraced processes down, one of which (env -u) drops LD_PRELOAD
// from what it executes; the shells and env write nothing.
TEST_F(RunTest, OnlyTracesTheMatchingGrandchildThroughUntracedParents) {
  SpawnOptions o;
  o.env.push_back(std::string("VALLEY_SHIM=") + VALLEY_REAL_SHIM);
  const std::string data = (tmp.path() / "data").string();
  write_file(data, "twelve bytes");
  const std::string script = "env -u LD_PRELOAD sh -c 'cat \"$0\"; echo' " + data;
  int n = 0;
  for (const std::string glob : {"cat", "*/ca?", "c[a]t*", "no-such-program"}) {
    SCOPED_TRACE(glob);
    const std::string d = dir("r" + std::to_string(n++));
    Outcome r = run(valley_run({"--dir", d, "--only", glob, "--", "sh", "-c", script}), o);
    ASSERT_TRUE(r.exited(0)) << r.describe();
    EXPECT_EQ(r.out, "twelve bytes\n");
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(d))
      files.push_back(e.path().filename().string());
    std::sort(files.begin(), files.end());
    if (glob == "no-such-program") {
      EXPECT_TRUE(files.empty()) << files.size();
      EXPECT_NE(r.err.find("traced 0 processes"), std::string::npos) << r.err;
      continue;
    }
    ASSERT_EQ(files.size(), 2u) << "one .vseg and its .vev: cat's";
    EXPECT_TRUE(files[0].ends_with(".vev") && files[1].ends_with(".vseg")) << files[0];
    Outcome dump = run({VALLEY_BIN, "dump", "--no-events", d});
    ASSERT_TRUE(dump.exited(0)) << dump.describe();
    EXPECT_NE(dump.out.find("\n  program: cat\n"), std::string::npos) << dump.out;
    EXPECT_NE(r.err.find("traced 1 process of sh"), std::string::npos) << r.err;
  }
}
#endif

} // namespace
