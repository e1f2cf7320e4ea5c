// SPDX-License-Identifier: MIT
/// @file packages.cpp
/// @brief `dpkg -S` in a child process with a deadline, its answers cached.
#include "packages.h"
#include "text.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <optional>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace valley::advisor {
namespace {

// The spellings dpkg may know a file by: with merged /usr, the loader says /lib/… where the
// package installed /usr/lib/… (or the reverse), and a library's soname is a symlink.
std::vector<std::string> spellings(const std::string& path) {
  std::vector<std::string> out{path};
  for (const char* dir : {"/lib/", "/lib64/", "/bin/", "/sbin/"}) {
    if (path.starts_with(dir)) out.push_back("/usr" + path);
    if (path.starts_with(std::string("/usr") + dir)) out.push_back(path.substr(4));
  }
  std::error_code ec;
  std::filesystem::path real = std::filesystem::canonical(path, ec);
  if (!ec && real.string() != path) out.push_back(real.string());
  return out;
}

// Runs argv with stdout captured, stdin and stderr on /dev/null; nullopt when it cannot be
// started, fails to finish in time (then it is killed), or is killed by a signal. Any exit
// status will do: dpkg -S exits 1 when some path is unknown, and still prints the others.
std::optional<std::string> capture(const std::vector<std::string>& argv, int timeout_ms) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return std::nullopt;
  }
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool timed_out = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      timed_out = n == 0;
      break;
    }
    char buf[4096];
    ssize_t got = ::read(fds[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  ::close(fds[0]);
  // A child that closed its stdout may still run: it gets until the deadline too.
  int status = 0;
  while (!timed_out) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? std::optional<std::string>(out) : std::nullopt;
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (std::chrono::steady_clock::now() >= deadline)
      timed_out = true;
    else
      ::usleep(2000);
  }
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return std::nullopt;
}

// "pkg1, pkg2: /path" → {"/path", "pkg1"}; diversion notes and errors are skipped.
void parse(const std::string& out, std::map<std::string, std::string>& found) {
  size_t start = 0;
  while (start < out.size()) {
    size_t nl = out.find('\n', start);
    std::string line = out.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? out.size() : nl + 1;
    if (line.starts_with("diversion ")) continue;
    size_t sep = line.find(": /");
    if (sep == std::string::npos) continue;
    std::string pkgs = line.substr(0, sep);
    std::string pkg = pkgs.substr(0, pkgs.find(','));
    if (!pkg.empty() && pkg.find(' ') == std::string::npos)
      found.try_emplace(line.substr(sep + 2), pkg);
  }
}

} // namespace

std::map<std::string, std::string> owning_packages(const std::vector<std::string>& paths,
                                                   const PackageQuery& q) {
  // By command and path; an empty answer is cached too, so a slow dpkg is waited for once.
  static std::map<std::pair<std::vector<std::string>, std::string>, std::string> cache;
  std::map<std::string, std::string> result;
  std::vector<std::string> ask;
  for (const std::string& p : paths) {
    auto it = cache.find({q.command, p});
    if (it == cache.end())
      ask.push_back(p);
    else if (!it->second.empty())
      result[p] = it->second;
  }
  if (ask.empty() || q.command.empty()) return result;
  std::vector<std::string> argv = q.command;
  for (const std::string& p : ask)
    for (const std::string& s : spellings(p))
      argv.push_back(s);
  std::map<std::string, std::string> found;
  if (std::optional<std::string> out = capture(argv, q.timeout_ms)) parse(*out, found);
  for (const std::string& p : ask) {
    std::string pkg;
    for (const std::string& s : spellings(p))
      if (auto it = found.find(s); it != found.end()) {
        pkg = it->second;
        break;
      }
    cache[{q.command, p}] = pkg;
    if (!pkg.empty()) result[p] = pkg;
  }
  return result;
}

void find_packages(std::vector<UnnamedModule>& modules, const PackageQuery& q) {
  std::vector<std::string> paths;
  for (const UnnamedModule& m : modules)
    paths.push_back(m.path);
  if (paths.empty()) return;
  std::map<std::string, std::string> pkgs = owning_packages(paths, q);
  for (UnnamedModule& m : modules)
    if (auto it = pkgs.find(m.path); it != pkgs.end()) m.package = it->second;
}

std::string dbgsym_package(const std::string& package) {
  return package.substr(0, package.find(':')) + "-dbgsym";
}

std::string unnamed_module_text(const UnnamedModule& m) {
  std::string s = m.path + ": no symbol table and no debug info, so its frames show as " +
                  base_name(m.path) +
                  "+0xOFFSET; names come with ";
  if (!m.package.empty())
    s += dbgsym_package(m.package) + " (the debug symbols of package " +
         m.package.substr(0, m.package.find(':')) + ")";
  else
    s += "its debug symbols (or a build with -g)";
  if (!m.build_id.empty())
    s += ", or from a debuginfod server (DEBUGINFOD_URLS) for build-id " + m.build_id;
  return s;
}

} // namespace valley::advisor
