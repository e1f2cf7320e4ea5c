// SPDX-License-Identifier: MIT
/// @file cmd_run.cpp
/// @brief `valley run [--dir DIR] -- CMD ARGS…`: runs CMD with libvalley.so preloaded for its
/// whole process tree and exits as CMD did.
#include "commands.h"
#include "settings.h"
#include "text.h"

#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <optional>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace valley::advisor {
namespace fs = std::filesystem;

const char* const kRunHelp =
    R"(usage: valley run [--dir DIR] [--coalesce] [--config FILE] [--only GLOB] [--] CMD [ARGS...]

Run CMD with libvalley.so preloaded into it and every process it starts, then print
where the traces are. valley exits with CMD's exit status (or dies from the same
signal), and leaves CMD's stdin, stdout and stderr alone.

  --dir DIR   write the traces to DIR (created if missing; must be empty if it exists)
              default: ./valley.<CMD>.<pid>
  --coalesce  turn the shim's write coalescer on (VALLEY_COALESCE=1)
  --config FILE
              a valley.toml (e.g. from 'valley report --emit-config'); checked first, then
              given to the shim as VALLEY_CONFIG; a bad file stops valley with exit status 2
  --only GLOB trace only the executables that match GLOB (VALLEY_ONLY): their full path
              (/proc/PID/exe) if GLOB has a '/', else its file name; e.g. --only 'cc1*'.
              The others are followed (what they start is traced if it matches) but
              write nothing

Environment:
  VALLEY_SHIM   path of libvalley.so (default: ../lib/libvalley.so next to valley)
)";

namespace {

struct RunOptions {
  std::optional<std::string> dir;
  bool coalesce = false;
  std::optional<std::string> config;
  std::optional<std::string> only;
  std::vector<std::string> command;
};

RunOptions parse_args(Args args) {
  RunOptions o;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "--dir" || a.starts_with("--dir=")) {
      std::string value;
      if (a == "--dir") {
        if (i + 1 == args.size()) throw UsageError("run: --dir needs a directory");
        value = args[++i];
      } else {
        value = a.substr(6);
      }
      if (value.empty()) throw UsageError("run: --dir needs a directory");
      o.dir = value;
      continue;
    }
    if (a == "--coalesce") {
      o.coalesce = true;
      continue;
    }
    if (a == "--config" || a.starts_with("--config=")) {
      std::string value;
      if (a == "--config") {
        if (i + 1 == args.size()) throw UsageError("run: --config needs a file");
        value = args[++i];
      } else {
        value = a.substr(9);
      }
      if (value.empty()) throw UsageError("run: --config needs a file");
      o.config = value;
      continue;
    }
    if (a == "--only" || a.starts_with("--only=")) {
      std::string value;
      if (a == "--only") {
        if (i + 1 == args.size()) throw UsageError("run: --only needs a glob");
        value = args[++i];
      } else {
        value = a.substr(7);
      }
      if (value.empty()) throw UsageError("run: --only needs a glob");
      if (value.size() > 255) throw UsageError("run: --only: the glob is longer than 255 bytes");
      o.only = value;
      continue;
    }
    if (a.size() > 1 && a[0] == '-') throw UsageError(fmt::format("run: unknown option '{}'", a));
    break; // the command, taken without "--" since it does not look like an option
  }
  o.command.assign(args.begin() + static_cast<ptrdiff_t>(i), args.end());
  if (o.command.empty()) throw UsageError("run: missing the command to run");
  if (o.command[0].empty()) throw UsageError("run: the command is an empty string");
  return o;
}

fs::path find_shim() {
  fs::path shim;
  if (const char* env = std::getenv("VALLEY_SHIM"); env && *env) {
    shim = env;
  } else {
    std::error_code ec;
    fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) throw std::runtime_error("cannot find libvalley.so: /proc/self/exe: " + ec.message());
    shim = self.parent_path() / ".." / "lib" / "libvalley.so";
  }
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(shim), ec);
  if (ec || !fs::is_regular_file(abs, ec) || ::access(abs.c_str(), R_OK) != 0)
    throw std::runtime_error(fmt::format(
        "cannot find libvalley.so at {} (not a readable file; set VALLEY_SHIM)", shim.string()));
  // ld.so splits LD_PRELOAD at spaces and colons.
  if (abs.string().find_first_of(": ") != std::string::npos)
    throw std::runtime_error(fmt::format(
        "the path of libvalley.so contains ':' or a space, which LD_PRELOAD cannot carry: {}",
        abs.string()));
  return abs;
}

/// The run directory as the user should type it, and the directories valley made for it
/// (parents first), which it takes back if the command cannot be started.
struct RunDirectory {
  fs::path dir;
  std::vector<fs::path> created;
};

/// mkdir with mode 0700 whatever the umask: the traces say what the program did (R-04).
bool make_private_dir(const fs::path& p) {
  if (::mkdir(p.c_str(), 0700) != 0) return false;
  ::chmod(p.c_str(), 0700);
  return true;
}

/// Takes back what make_run_dir made, deepest first, as long as nothing was put in it.
void remove_created(const RunDirectory& rd) {
  for (auto it = rd.created.rbegin(); it != rd.created.rend(); ++it)
    if (::rmdir(it->c_str()) != 0) break;
}

RunDirectory make_run_dir(const RunOptions& o) {
  std::error_code ec;
  RunDirectory rd;
  if (o.dir) {
    rd.dir = *o.dir;
    if (fs::exists(rd.dir, ec)) {
      if (!fs::is_directory(rd.dir, ec))
        throw UsageError(fmt::format("run: {} exists and is not a directory", rd.dir.string()));
      if (!fs::is_empty(rd.dir, ec) || ec)
        throw UsageError(
            fmt::format("{} exists and is not empty; choose another --dir", rd.dir.string()));
      return rd;
    }
    // Like mkdir -p, but each directory made here is private.
    fs::path at;
    for (const fs::path& part : rd.dir.lexically_normal()) {
      at /= part;
      if (part.empty() || fs::is_directory(at, ec)) continue;
      if (make_private_dir(at)) {
        rd.created.push_back(at);
      } else if (errno != EEXIST) {
        const int err = errno;
        remove_created(rd);
        throw std::runtime_error(
            fmt::format("cannot create {}: {}", at.string(), std::strerror(err)));
      }
    }
    return rd;
  }
  std::string base =
      fmt::format("valley.{}.{}", fs::path(o.command[0]).filename().string(), ::getpid());
  // mkdir is the existence check: a path that exists is never reused.
  for (int n = 1; n < 1000; ++n) {
    std::string name = n == 1 ? base : fmt::format("{}.{}", base, n);
    if (make_private_dir(name)) {
      rd.dir = fs::path(".") / name;
      rd.created.push_back(name);
      return rd;
    }
    if (errno != EEXIST)
      throw std::runtime_error(fmt::format("cannot create {}: {}", name, std::strerror(errno)));
  }
  throw std::runtime_error(fmt::format("cannot create {}: too many runs with this name", base));
}

std::vector<std::string> child_environment(const fs::path& shim, const fs::path& dir,
                                           const RunOptions& o) {
  std::vector<std::string> env;
  std::string preload = shim.string();
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    if (kv.starts_with("VALLEY_DIR=")) continue;
    if (o.coalesce && kv.starts_with("VALLEY_COALESCE=")) continue;
    if (o.config && kv.starts_with("VALLEY_CONFIG=")) continue;
    if (o.only && kv.starts_with("VALLEY_ONLY=")) continue;
    if (kv.starts_with("LD_PRELOAD=")) {
      if (kv.size() > 11) preload += ":" + std::string(kv.substr(11));
      continue;
    }
    env.emplace_back(kv);
  }
  env.push_back("VALLEY_DIR=" + dir.string());
  env.push_back("LD_PRELOAD=" + preload);
  if (o.coalesce) env.push_back("VALLEY_COALESCE=1");
  if (o.config) env.push_back("VALLEY_CONFIG=" + fs::absolute(*o.config).lexically_normal().string());
  if (o.only) env.push_back("VALLEY_ONLY=" + *o.only);
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (std::string& s : v)
    out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

volatile sig_atomic_t g_child = 0;

void forward_signal(int sig) {
  // Until fork returns in the parent g_child is 0, and kill(0) would hit our process group.
  if (g_child > 0) ::kill(g_child, sig);
}

/// valley's signals while its child runs, like time(1): the terminal's SIGINT and SIGQUIT
/// reach the child as well, which decides; valley ignores them and waits to report. SIGTERM
/// and SIGHUP come to valley alone (kill, hangup), so they are passed on. SIGCHLD gets its
/// default so that waitpid works even when valley was started with it ignored.
class ChildSignals {
public:
  ChildSignals() {
    sigset_t forwarded;
    sigemptyset(&forwarded);
    sigaddset(&forwarded, SIGTERM);
    sigaddset(&forwarded, SIGHUP);
    // Blocked until the child's pid is known to the handler.
    ::sigprocmask(SIG_BLOCK, &forwarded, &old_mask_);
    struct sigaction ignore {
    }, forward{}, dfl{};
    ignore.sa_handler = SIG_IGN;
    dfl.sa_handler = SIG_DFL;
    forward.sa_handler = forward_signal;
    sigemptyset(&forward.sa_mask);
    const struct sigaction* wanted[] = {&ignore, &ignore, &forward, &forward, &dfl};
    for (size_t i = 0; i < std::size(kSignals); ++i)
      ::sigaction(kSignals[i], wanted[i], &old_[i]);
  }
  ~ChildSignals() { finished(); }
  ChildSignals(const ChildSignals&) = delete;
  ChildSignals& operator=(const ChildSignals&) = delete;

  /// In the forked child before exec: everything as valley found it.
  void restore_for_child() const {
    for (size_t i = 0; i < std::size(kSignals); ++i)
      ::sigaction(kSignals[i], &old_[i], nullptr);
    ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  void started(pid_t child) {
    if (child > 0) g_child = child;
    ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  void finished() {
    if (done_) return;
    done_ = true;
    g_child = 0;
    for (size_t i = 0; i < std::size(kSignals); ++i)
      ::sigaction(kSignals[i], &old_[i], nullptr);
  }

private:
  static constexpr int kSignals[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD};
  struct sigaction old_[std::size(kSignals)]{};
  sigset_t old_mask_{};
  bool done_ = false;
};

size_t count_traces(const fs::path& dir) {
  size_t n = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".vseg") ++n;
  return n;
}

/// What the run directory costs: the files' apparent sizes and the blocks they hold on disk
/// (segments are sparse: far less on disk than their size says). Symlinks are not followed.
struct DirSize {
  uint64_t apparent = 0, on_disk = 0;
};
DirSize dir_size(const fs::path& dir) {
  DirSize s;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || S_ISDIR(st.st_mode)) continue;
    s.apparent += static_cast<uint64_t>(st.st_size);
    s.on_disk += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return s;
}

/// "0 B", "512 B", "1.5 KiB", "12.3 MiB", "2.0 GiB"
std::string size_text(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes) / 1024;
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(kUnits))
    v /= 1024, ++u;
  return fmt::format("{:.1f} {}", v, kUnits[u]);
}

std::string signal_name(int sig) {
  if (const char* abbrev = ::sigabbrev_np(sig)) return fmt::format("SIG{}", abbrev);
  return fmt::format("signal {}", sig);
}

/// Dies from `sig` like the child did, without a core file of valley; 128+sig if it survives.
int die_like(int sig) {
  struct rlimit none {};
  ::setrlimit(RLIMIT_CORE, &none);
  ::signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(sig);
  return 128 + sig;
}

} // namespace

int run_run(Args args) {
  RunOptions o = parse_args(args);
  if (o.config) {
    try {
      load_settings(*o.config);
    } catch (const SettingsError& e) {
      fmt::print(stderr, "valley: error: {}\nvalley: error: nothing was run\n", e.what());
      return 2;
    }
  }
  fs::path shim = find_shim();
  RunDirectory rd = make_run_dir(o);
  const fs::path& dir = rd.dir;
  fs::path abs_dir = fs::absolute(dir).lexically_normal();
  std::vector<std::string> env = child_environment(shim, abs_dir, o);
  std::vector<char*> envp = c_strings(env);
  std::vector<char*> argv = c_strings(o.command);

  // The child reports a failed exec through this pipe; a successful exec closes it.
  int exec_status[2];
  if (::pipe2(exec_status, O_CLOEXEC) != 0) {
    remove_created(rd);
    throw std::runtime_error(fmt::format("cannot create a pipe: {}", std::strerror(errno)));
  }
  ChildSignals signals;
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    signals.restore_for_child();
    ::execvpe(argv[0], argv.data(), envp.data());
    int err = errno;
    while (::write(exec_status[1], &err, sizeof err) < 0 && errno == EINTR) {
    }
    ::_exit(127);
  }
  int fork_errno = errno;
  signals.started(pid);
  ::close(exec_status[1]);
  if (pid < 0) {
    ::close(exec_status[0]);
    remove_created(rd);
    throw std::runtime_error(fmt::format("cannot fork: {}", std::strerror(fork_errno)));
  }
  int exec_errno = 0;
  ssize_t got;
  while ((got = ::read(exec_status[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
  }
  ::close(exec_status[0]);
  const bool started = got != static_cast<ssize_t>(sizeof exec_errno);

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      throw std::runtime_error(
          fmt::format("waiting for {}: {}", o.command[0], std::strerror(errno)));
  }
  signals.finished();

  if (!started) {
    remove_created(rd);
    fmt::print(stderr, "valley: error: {} could not be started: {}; nothing was traced\n",
               printable(o.command[0]), std::strerror(exec_errno));
    // As a shell: 127 when there is no such program, 126 when it cannot be executed.
    return exec_errno == ENOENT ? 127 : 126;
  }

  size_t traced = count_traces(dir);
  std::string how = WIFSIGNALED(status)
                        ? fmt::format(" (killed by {})", signal_name(WTERMSIG(status)))
                        : std::string();
  std::string shown = shell_join({dir.string()});
  const DirSize size = dir_size(dir);
  fmt::print(stderr,
             "valley: traced {} process{} of {} in {}{}, {} on disk ({} apparent) — see: valley "
             "report {}\n",
             traced, traced == 1 ? "" : "es", printable(o.command[0]), shown, how,
             size_text(size.on_disk), size_text(size.apparent), shown);
  std::fflush(nullptr);
  if (WIFSIGNALED(status)) return die_like(WTERMSIG(status));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

std::string newest_run_dir() {
  namespace fs = std::filesystem;
  std::string best;
  fs::file_time_type best_time{};
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(".", ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with("valley.") || !e.is_directory(ec)) continue;
    fs::file_time_type t = e.last_write_time(ec);
    if (!ec && (best.empty() || t > best_time)) best = name, best_time = t;
  }
  return best;
}

} // namespace valley::advisor
