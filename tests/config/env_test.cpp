// SPDX-License-Identifier: MIT
// One value, written as a VALLEY_* variable and in valley.toml: both go through the settings
// table's checks, so both are refused (in the same words, but for a flag's 0/1 or true/false)
// or both are taken, with the same result.
#include "config_file.h"
#include "options.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace valley;

namespace {

struct Case {
  std::string var, toml;
  std::string words; ///< what is wrong; empty: the value is good
};

std::vector<Case> cases() {
  const std::string not_site =
      " is not a call site (module+0xOFFSET: a file name, then the offset in lower-case "
      "hex without leading zeros)";
  const std::string long_glob = "/" + std::string(300, 'g');
  return {
      {"VALLEY_COALESCE_SIZE=4096", "buffer_size = 4096", ""},
      {"VALLEY_COALESCE_SIZE=511", "buffer_size = 511",
       " must be an integer in 512..1048576 (bytes)"},
      {"VALLEY_COALESCE_SIZE=1048577", "buffer_size = 1048577",
       " must be an integer in 512..1048576 (bytes)"},
      {"VALLEY_COALESCE_MAX_AGE_MS=1000", "max_age_ms = 1000", ""},
      {"VALLEY_COALESCE_MAX_AGE_MS=0", "max_age_ms = 0", " must be an integer in 1..1000 (ms)"},
      {"VALLEY_COALESCE_KINDS=pipe,tcp,unix-stream", "kinds = [\"pipe\", \"tcp\", \"unix-stream\"]",
       ""},
      {"VALLEY_COALESCE_KINDS=file,udp", "kinds = [\"file\", \"udp\"]",
       ": unknown kind 'udp' (known: file, pipe, fifo, tcp, unix-stream)"},
      {"VALLEY_COALESCE_PATHS=/a/*:/b/*.log", "paths = [\"/a/*\", \"/b/*.log\"]", ""},
      {"VALLEY_COALESCE_PATHS=" + long_glob, "paths = [\"" + long_glob + "\"]",
       ": an entry must be 1..255 bytes, not 301"},
      {"VALLEY_COALESCE_SITES=libstdc++.so.6+0x1a2b,app+0x0",
       "sites = [\"libstdc++.so.6+0x1a2b\", \"app+0x0\"]", ""},
      {"VALLEY_COALESCE_SITES=app+0x00ff", "sites = [\"app+0x00ff\"]", ": 'app+0x00ff'" + not_site},
      {"VALLEY_COALESCE_SITES=libc.so.6+0x1A", "sites = [\"libc.so.6+0x1A\"]",
       ": 'libc.so.6+0x1A'" + not_site},
      {"VALLEY_COALESCE_STDIO=1", "stdio = true", ""},
  };
}

// The [coalesce] options a VALLEY_* variable leads to, with coalescing asked for.
shim::CoalesceOptions from_env(const std::string& var) {
  std::string on = "VALLEY_COALESCE=1", v = var;
  char* env[] = {on.data(), v.data(), nullptr};
  auto* o = new shim::Options;
  EXPECT_TRUE(shim::read_options(env, o));
  shim::CoalesceOptions c = o->coalesce;
  delete o;
  return c;
}

bool same(const shim::CoalesceOptions& a, const shim::CoalesceOptions& b) {
  return a.on == b.on && a.size == b.size && a.max_age_us == b.max_age_us && a.kinds == b.kinds &&
         a.stdio == b.stdio && std::string(a.paths) == b.paths && std::string(a.sites) == b.sites;
}

// The one line the shim prints for a variable, from a child process with its own stderr.
std::string line_for(const std::string& var) {
  int fds[2];
  if (::pipe(fds) != 0) return "no pipe";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 2);
    from_env(var);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  ::waitpid(pid, nullptr, 0);
  return out;
}

} // namespace

TEST(SettingsEverywhere, AVariableAndAConfigKeyAreCheckedAlike) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.var.substr(0, 60));
    const shim::CoalesceOptions env = from_env(c.var);
    auto* file = new shim::CoalesceOptions;
    shim::coalesce_defaults(file);
    shim::ConfigError err{};
    const std::string text = "[coalesce]\nenabled = true\n" + c.toml + "\n";
    const bool ok = shim::parse_config(text.data(), text.size(), file, &err);
    EXPECT_EQ(ok, c.words.empty()) << err.message;
    EXPECT_EQ(env.on, c.words.empty());
    if (ok) {
      EXPECT_TRUE(same(env, *file));
    } else {
      const std::string name = c.var.substr(0, c.var.find('='));
      const std::string value = c.var.substr(c.var.find('=') + 1);
      EXPECT_EQ(line_for(c.var), "valley: error: " + name + "='" + value.substr(0, 60) +
                                     (value.size() > 60 ? "..." : "") + "'" + c.words +
                                     "; coalescing off\n");
      EXPECT_NE(std::string(err.message).find(c.words), std::string::npos) << err.message;
    }
    delete file;
  }
}

TEST(SettingsEverywhere, ControlCharactersInAValueStayOnOneLine) {
  EXPECT_EQ(line_for("VALLEY_COALESCE_SIZE=12\n3\x1b[31m"),
            "valley: error: VALLEY_COALESCE_SIZE='12\\x0a3\\x1b[31m' must be an integer in "
            "512..1048576 (bytes); "
            "coalescing off\n");
}
