// SPDX-License-Identifier: MIT
// I-17: a config path that names a FIFO, a device or a directory, or a file too large: both readers
// refuse it at once, in one line, instead of blocking (a FIFO without a writer), reading
// forever (/dev/zero) or reading a directory as an empty file. In the traced program the
// program runs on unchanged; the valley command stops with exit status 2.
#include "config_file.h"
#include "options.h"
#include "settings.h"
#include "subprocess.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace valley;
namespace fs = std::filesystem;
using valley::testing::Outcome;

namespace {

class ConfigFiles : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/valley-config-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fifo_ = dir_ / "fifo.toml";
    ASSERT_EQ(::mkfifo(fifo_.c_str(), 0600), 0);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

  // Runs f in a child that SIGALRM ends after `seconds`, with stderr (the shim's diag
  // lines) captured. Returns f's result, "hung" if it did not return in time, and the
  // child's stderr in *err.
  std::string bounded(const std::function<std::string()>& f, std::string* err = nullptr,
                      int seconds = 5) {
    const fs::path out = dir_ / "child.out", errs = dir_ / "child.err";
    const pid_t pid = ::fork();
    if (pid == 0) {
      std::freopen(errs.c_str(), "w", stderr);
      ::alarm(static_cast<unsigned>(seconds));
      const std::string r = f();
      std::ofstream(out) << r;
      std::fflush(nullptr);
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    std::ifstream e(errs);
    if (err) *err = std::string(std::istreambuf_iterator<char>(e), {});
    if (WIFSIGNALED(status)) return WTERMSIG(status) == SIGALRM ? "hung" : "killed by a signal";
    std::ifstream o(out);
    return std::string(std::istreambuf_iterator<char>(o), {});
  }

  // What the shim says about path, and whether it left the options alone.
  std::string shim_refuses(const fs::path& path, std::string* err) {
    return bounded(
        [&] {
          shim::CoalesceOptions o{};
          shim::coalesce_defaults(&o);
          o.on = true;
          if (shim::read_coalesce_config(path.c_str(), &o)) return std::string("accepted");
          return std::string(o.on && o.size == 65536 ? "refused" : "refused, options changed");
        },
        err);
  }

  std::string advisor_refuses(const fs::path& path) {
    return bounded([&] {
      try {
        advisor::load_settings(path);
        return std::string("accepted");
      } catch (const advisor::SettingsError& e) {
        return std::string(e.what());
      } catch (const std::exception& e) {
        return std::string("other exception: ") + e.what();
      }
    });
  }

  fs::path dir_, fifo_;
};

std::string shim_line(const fs::path& p, const char* what) {
  return "valley: error: " + p.string() + ": " + what + "; coalescing off\n";
}

} // namespace

TEST_F(ConfigFiles, ShimRefusesWhatIsNotARegularFileWithoutWaiting) {
  const std::vector<std::pair<fs::path, const char*>> cases = {
      {fifo_, "is a FIFO, not a regular file"},
      {dir_, "is a directory, not a regular file"},
      {"/dev/zero", "is a character device, not a regular file"}};
  for (const auto& [path, what] : cases) {
    SCOPED_TRACE(path);
    std::string err;
    EXPECT_EQ(shim_refuses(path, &err), "refused");
    EXPECT_EQ(err, shim_line(path, what));
  }
}

TEST_F(ConfigFiles, AdvisorRefusesTheSameWithoutWaiting) {
  EXPECT_EQ(advisor_refuses(fifo_), fifo_.string() + ": is a FIFO, not a regular file");
  EXPECT_EQ(advisor_refuses(dir_), dir_.string() + ": is a directory, not a regular file");
  EXPECT_EQ(advisor_refuses("/dev/zero"), "/dev/zero: is a character device, not a regular file");
  EXPECT_EQ(advisor_refuses(dir_ / "missing.toml"),
            (dir_ / "missing.toml").string() +
                ": cannot read the config file: No such file or directory");
}

TEST_F(ConfigFiles, OneMebibyteIsTheMostEitherReads) {
  // All comment: valid at any size, so only the size decides.
  std::string text(settings::kMaxFileBytes, 'x');
  text[0] = '#';
  const fs::path at_limit = write("limit.toml", text);
  const fs::path above = write("above.toml", text + "x");
  std::string err;
  EXPECT_EQ(shim_refuses(at_limit, &err), "accepted") << err;
  EXPECT_EQ(advisor_refuses(at_limit), "accepted");
  EXPECT_EQ(shim_refuses(above, &err), "refused");
  EXPECT_EQ(err, shim_line(above, "is larger than 1 MiB, the most a valley.toml may hold"));
  EXPECT_EQ(advisor_refuses(above),
            above.string() + ": is larger than 1 MiB, the most a valley.toml may hold");
}

TEST_F(ConfigFiles, ShimNamesFileLineAndColumnInOneLine) {
  const fs::path bad =
      write("bad.toml", "[coalesce]\nenabled = true\nbuffer_size = 18446744073709552128\n");
  std::string err;
  EXPECT_EQ(shim_refuses(bad, &err), "refused");
  EXPECT_EQ(err, "valley: error: " + bad.string() +
                     ":3:35: this integer is not representable in 64 bits; coalescing off\n");
}

TEST_F(ConfigFiles, ShimReadsAGoodFile) {
  const fs::path good = write("good.toml", "[ coalesce ]\nenabled = true\nbuffer_size = 4096\n");
  shim::CoalesceOptions o{};
  shim::coalesce_defaults(&o);
  ASSERT_TRUE(shim::read_coalesce_config(good.c_str(), &o));
  EXPECT_TRUE(o.on);
  EXPECT_EQ(o.size, 4096u);
}

// Under the real preload: VALLEY_CONFIG naming a FIFO used to stop every traced process
// before main. Now each says so in one line and runs unchanged, children included.
TEST_F(ConfigFiles, TracedProgramsRunOnWhenTheConfigIsAFifo) {
  valley::testing::SpawnOptions o;
  o.env = {std::string("LD_PRELOAD=") + VALLEY_SHIM, "VALLEY_DIR=" + (dir_ / "run").string(),
           "VALLEY_CONFIG=" + fifo_.string(), "VALLEY_COALESCE=1"};
  valley::testing::Child child({"/bin/sh", "-c", "echo parent; /bin/sh -c 'echo child'"}, o);
  const Outcome r = child.wait(20);
  ASSERT_TRUE(r.exited(0)) << r.describe();
  EXPECT_EQ(r.out, "parent\nchild\n");
  const std::string line = shim_line(fifo_, "is a FIFO, not a regular file");
  EXPECT_EQ(r.err, line + line) << r.err; // one line from each of the two shells
}

TEST_F(ConfigFiles, TheValleyCommandStopsWithStatusTwo) {
  for (const fs::path& bad : {fifo_, fs::path("/dev/zero"), dir_}) {
    SCOPED_TRACE(bad);
    valley::testing::Child report({VALLEY_BIN, "report", "--config", bad.string(), dir_.string()});
    const Outcome r = report.wait(20);
    EXPECT_TRUE(r.exited(2)) << r.describe();
    EXPECT_NE(r.err.find(bad.string() + ": is a"), std::string::npos) << r.err;
    valley::testing::Child run({VALLEY_BIN, "run", "--config", bad.string(), "--dir",
                                (dir_ / "r").string(), "--", "true"});
    const Outcome rr = run.wait(20);
    EXPECT_TRUE(rr.exited(2)) << rr.describe();
    EXPECT_NE(rr.err.find("not a regular file"), std::string::npos) << rr.err;
    EXPECT_FALSE(fs::exists(dir_ / "r"));
  }
}

TEST_F(ConfigFiles, EmitConfigNeverOverwritesTheConfigItRead) {
  const std::string text = "[advisor]\nmin_calls = 7\n";
  const fs::path cfg = write("mine.toml", text);
  valley::testing::Child report({VALLEY_BIN, "report", "--config", cfg.string(), "--emit-config",
                                 (dir_ / "." / "mine.toml").string(), dir_.string()});
  const Outcome r = report.wait(20);
  EXPECT_TRUE(r.exited(2)) << r.describe();
  EXPECT_NE(r.err.find("would overwrite the --config file"), std::string::npos) << r.err;
  std::ifstream in(cfg);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), text);
}
