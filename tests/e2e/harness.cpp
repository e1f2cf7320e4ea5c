// SPDX-License-Identifier: MIT
/// @file harness.cpp
/// @brief fork/exec of `timeout … env … CMD` pipelines, byte comparison of two runs, and
/// the checks every trace must pass.
#include "harness.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef VALLEY_BIN
#error "VALLEY_BIN must name the built valley command"
#endif
#ifndef VALLEY_SHIM
#error "VALLEY_SHIM must name the built libvalley.so"
#endif

namespace valley::e2e {
namespace {

// Debian's programs only: nothing from /usr/local or a user's PATH.
constexpr const char* kSearchPath = "/usr/bin:/bin";
// The harness's last resort, beyond each stage's `timeout`, for anything `timeout` leaves
// behind (a daemonized grandchild holding a pipe open).
constexpr double kHarnessGrace = 15;

std::string find_program(const std::string& name) {
  std::stringstream dirs(kSearchPath);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string p = dir + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  throw std::runtime_error("e2e: " + name + " not found in " + kSearchPath +
                           " (install the packages in tests/e2e/packages.txt)");
}

std::string read_file(const fs::path& p, bool* exists = nullptr) {
  std::ifstream in(p, std::ios::binary);
  if (exists) *exists = static_cast<bool>(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A short, printable excerpt of bytes for messages.
std::string excerpt(const std::string& s, size_t at, size_t len = 48) {
  std::string out = "\"";
  size_t end = std::min(s.size(), at + len);
  for (size_t i = at; i < end; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n') out += "\\n";
    else if (c == '"' || c == '\\') out += std::string("\\") + static_cast<char>(c);
    else if (c >= 32 && c < 127) out += static_cast<char>(c);
    else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + (end < s.size() ? "\"…" : "\"");
}

// Empty when equal, else where and how the two byte strings differ.
std::string byte_difference(const std::string& a, const std::string& b) {
  if (a == b) return {};
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  size_t from = i > 16 ? i - 16 : 0;
  return "differ at byte " + std::to_string(i) + " (sizes " + std::to_string(a.size()) +
         " without valley, " + std::to_string(b.size()) + " with): without " + excerpt(a, from) +
         ", with " + excerpt(b, from);
}

std::string stage_name(const Argv& argv, size_t i) {
  return "stage " + std::to_string(i) + " (" + (argv.empty() ? "?" : argv[0]) + ")";
}

[[noreturn]] void exec_stage(const std::vector<std::string>& args, const std::vector<std::string>& env,
                             const fs::path& cwd, int in, int out, int err) {
  // Only the three standard fds survive: the pipes were made close-on-exec.
  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(126);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig)
    ::signal(sig, SIG_DFL); // SIGPIPE above all: a writer into `head` must die of it
  if (::chdir(cwd.c_str()) != 0) ::_exit(126);
  std::vector<char*> argv, envp;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  ::execve(argv[0], argv.data(), envp.data());
  ::dprintf(2, "e2e: cannot exec %s: %s\n", argv[0], std::strerror(errno));
  ::_exit(127);
}

} // namespace

std::string describe_status(int status) {
  if (WIFEXITED(status)) {
    int code = WEXITSTATUS(status);
    if (code == 124) return "timed out (exit 124 from timeout)";
    return "exit " + std::to_string(code);
  }
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return std::string("signal ") + (name ? std::string("SIG") + name : std::to_string(WTERMSIG(status)));
  }
  return "status " + std::to_string(status);
}

std::vector<std::string> base_environment(const fs::path& home) {
  return {std::string("PATH=") + kSearchPath,
          "HOME=" + home.string(),
          "LC_ALL=C",
          "LANG=C",
          "TZ=UTC",
          "TERM=dumb",
          "TMPDIR=" + home.string(),
          "DEBUGINFOD_URLS=",
          "PYTHONDONTWRITEBYTECODE=1",
          "PYTHONHASHSEED=0"};
}

RunResult run_pipeline(const std::vector<Argv>& stages, const fs::path& cwd,
                       const std::string& stdin_file, const std::vector<std::string>& env,
                       const std::vector<std::string>& target_env, int timeout_seconds) {
  const double deadline = timeout_seconds + kHarnessGrace;
  const std::string timeout = find_program("timeout"), envcmd = find_program("env");
  const auto start = std::chrono::steady_clock::now();
  RunResult r;
  r.stages.resize(stages.size());

  int in = ::open(stdin_file.empty() ? "/dev/null" : (cwd / stdin_file).c_str(),
                  O_RDONLY | O_CLOEXEC);
  if (in < 0) throw std::runtime_error("e2e: cannot open stdin " + stdin_file);
  std::vector<pid_t> pids;
  std::vector<int> errs;
  for (size_t i = 0; i < stages.size(); ++i) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) throw std::runtime_error("pipe2");
    std::vector<std::string> args = {timeout, "-k", "2", std::to_string(timeout_seconds), envcmd};
    args.insert(args.end(), target_env.begin(), target_env.end());
    args.insert(args.end(), stages[i].begin(), stages[i].end());
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork");
    if (pid == 0) exec_stage(args, env, cwd, in, out[1], err[1]);
    ::close(in);
    ::close(out[1]);
    ::close(err[1]);
    in = out[0]; // the next stage's stdin, or the captured stdout after the last
    pids.push_back(pid);
    errs.push_back(err[0]);
  }

  // Drain the last stdout and every stderr until all are closed.
  std::vector<pollfd> fds;
  std::vector<std::string*> sinks;
  fds.push_back({in, POLLIN, 0});
  sinks.push_back(&r.out);
  for (size_t i = 0; i < errs.size(); ++i) {
    fds.push_back({errs[i], POLLIN, 0});
    sinks.push_back(&r.stages[i].err);
  }
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  auto kill_all = [&] {
    r.deadline = true;
    for (pid_t p : pids) {
      ::kill(-p, SIGKILL); // timeout made itself a process group leader
      ::kill(p, SIGKILL);
    }
  };
  size_t open_fds = fds.size();
  char buf[65536];
  while (open_fds > 0) {
    if (elapsed() > deadline) {
      kill_all();
      break;
    }
    int n = ::poll(fds.data(), fds.size(), 200);
    if (n < 0 && errno != EINTR) break;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (pollfd& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  for (size_t i = 0; i < pids.size(); ++i) {
    int status = 0;
    while (true) {
      pid_t w = ::waitpid(pids[i], &status, WNOHANG);
      if (w == pids[i] || (w < 0 && errno != EINTR)) break;
      if (elapsed() > deadline + 5 && !r.deadline) kill_all();
      ::usleep(2000);
    }
    r.stages[i].status = status;
  }
  r.seconds = elapsed();
  return r;
}

// ---- Differential ----

Differential::Differential(Case c) : case_(std::move(c)) {
  std::string tmpl = (fs::temp_directory_path() / "valley-e2e-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("e2e: mkdtemp failed");
  root_ = tmpl;

  fresh_work();
  base_ = run_once(case_.stages, false);
  fs::rename(root_ / "work", root_ / "base");

  fresh_work();
  fs::create_directories(root_ / "trace");
  traced_ = run_once(case_.traced_stages.empty() ? case_.stages : case_.traced_stages, true);
  fs::rename(root_ / "work", root_ / "traced");

  RunResult d = run_pipeline({{VALLEY_BIN, "dump", "--json", (root_ / "trace").string()}}, root_,
                             "", base_environment(root_ / "home"), {});
  dump_status_ = d.stages[0].status;
  dump_err_ = d.stages[0].err;
  dump_ = json::parse(d.out, nullptr, /*allow_exceptions=*/false);
}

Differential::~Differential() {
  if (std::getenv("VALLEY_E2E_KEEP")) return;
  std::error_code ec;
  fs::remove_all(root_, ec);
}

void Differential::fresh_work() {
  fs::remove_all(root_ / "work");
  fs::remove_all(root_ / "home");
  fs::create_directories(root_ / "work");
  fs::create_directories(root_ / "home");
  if (case_.setup) case_.setup(root_ / "work");
}

RunResult Differential::run_once(const std::vector<Argv>& stages, bool traced) {
  std::vector<std::string> env = base_environment(root_ / "home");
  env.insert(env.end(), case_.env.begin(), case_.env.end());
  std::vector<std::string> target_env;
  if (traced) {
    target_env = {std::string("LD_PRELOAD=") + VALLEY_SHIM,
                  "VALLEY_DIR=" + (root_ / "trace").string()};
    // Another shim mode for the whole suite, e.g. VALLEY_E2E_TARGET_ENV="VALLEY_COALESCE=1".
    if (const char* extra = std::getenv("VALLEY_E2E_TARGET_ENV")) {
      std::stringstream words(extra);
      for (std::string w; words >> w;) target_env.push_back(w);
    }
  }
  return run_pipeline(stages, root_ / "work", case_.stdin_file, env, target_env,
                      case_.timeout_seconds);
}

std::vector<std::string> Differential::differences() const {
  std::vector<std::string> out;
  const auto& stages = case_.stages;
  for (size_t i = 0; i < case_.expect_status.size() && i < base_.stages.size(); ++i) {
    std::string got = describe_status(base_.stages[i].status);
    if (got != case_.expect_status[i])
      out.push_back(stage_name(stages[i], i) + " without valley: expected " +
                    case_.expect_status[i] + ", got " + got + "; stderr " +
                    excerpt(base_.stages[i].err, 0, 400));
  }
  if (base_.deadline) out.push_back("the run without valley had to be killed by the harness");
  if (traced_.deadline) out.push_back("the run with valley had to be killed by the harness (hang)");
  if (base_.stages.size() != traced_.stages.size()) {
    out.push_back("different stage counts");
    return out;
  }
  for (size_t i = 0; i < base_.stages.size(); ++i) {
    const StageResult &a = base_.stages[i], &b = traced_.stages[i];
    if (a.status != b.status)
      out.push_back(stage_name(stages[i], i) + " ended differently: without valley " +
                    describe_status(a.status) + ", with valley " + describe_status(b.status) +
                    "; stderr with valley " + excerpt(b.err, 0, 400));
    if (std::string d = byte_difference(a.err, b.err); !d.empty())
      out.push_back(stage_name(stages[i], i) + " stderr: " + d);
  }
  if (std::string d = byte_difference(base_.out, traced_.out); !d.empty())
    out.push_back("stdout: " + d);

  for (const std::string& rel : case_.out_files) {
    bool in_a = false, in_b = false;
    std::string a = read_file(root_ / "base" / rel, &in_a), b = read_file(root_ / "traced" / rel, &in_b);
    if (in_a != in_b)
      out.push_back("file " + rel + ": exists " + (in_a ? "only without" : "only with") + " valley");
    else if (!in_a)
      out.push_back("file " + rel + ": not produced by either run");
    else if (std::string d = byte_difference(a, b); !d.empty())
      out.push_back("file " + rel + ": " + d);
  }
  for (const std::string& rel : case_.out_dirs) {
    RunResult diff = run_pipeline(
        {{"diff", "-r", "--no-dereference", (root_ / "base" / rel).string(),
          (root_ / "traced" / rel).string()}},
        root_, "", base_environment(root_ / "home"), {});
    if (describe_status(diff.stages[0].status) != "exit 0")
      out.push_back("tree " + rel + " differs (diff -r " + describe_status(diff.stages[0].status) +
                    "): " + excerpt(diff.out + diff.stages[0].err, 0, 600));
  }
  return out;
}

// ---- reading the dump ----

const json& traces(const json& dump) {
  static const json empty = json::array();
  if (!dump.is_object() || !dump.contains("processes") || !dump["processes"].is_array())
    return empty;
  return dump["processes"];
}

static std::string program_of(const json& trace) {
  if (!trace.contains("command") || !trace["command"].is_array() || trace["command"].empty())
    return {};
  return fs::path(trace["command"][0].get<std::string>()).filename().string();
}

std::vector<const json*> traces_of(const json& dump, const std::string& program) {
  std::vector<const json*> out;
  for (const json& t : traces(dump))
    if (program_of(t) == program) out.push_back(&t);
  return out;
}

uint64_t Totals::size_bucket(const std::string& key) const {
  for (const auto& [k, v] : size_hist)
    if (k == key) return v;
  return 0;
}

bool is_flush_site(const json& site) {
  if (site.is_number_unsigned()) return site.get<uint64_t>() == 0xFFFFFFFDu; // kSiteFlush
  if (site.is_string()) return site.get<std::string>().find("flush") != std::string::npos;
  return false;
}

bool is_flush_event(const json& e) {
  if (e.contains("site") && is_flush_site(e["site"])) return true;
  if (!e.contains("flags") || !e["flags"].is_array()) return false;
  for (const json& f : e["flags"]) {
    if (!f.is_string()) continue;
    const std::string s = f.get<std::string>();
    if (s.find("flush") != std::string::npos) return true;
    if (s.rfind("0x", 0) == 0 && (std::strtoul(s.c_str(), nullptr, 16) & 0x8)) return true; // kEventFlush
  }
  return false;
}

Totals totals_any(const json& trace, const std::vector<std::string>& ops, const std::string& kind,
                  bool flushes) {
  Totals t;
  std::map<uint64_t, uint64_t> hist;
  if (!trace.contains("counters")) return t;
  for (const json& c : trace["counters"]) {
    if (!c["op"].is_string() || std::find(ops.begin(), ops.end(), c["op"]) == ops.end()) continue;
    if (is_flush_site(c["site"]) != flushes) continue;
    if (!kind.empty() && c["fd_kind"] != kind) continue;
    t.calls += c["calls"].get<uint64_t>();
    t.bytes += c["bytes"].get<uint64_t>();
    t.requested += c["requested"].get<uint64_t>();
    t.errors += c["errors"].get<uint64_t>();
    t.zero_results += c["zero_results"].get<uint64_t>();
    for (const auto& [k, v] : c["size_hist"].items()) hist[std::stoull(k)] += v.get<uint64_t>();
  }
  for (const auto& [k, v] : hist) t.size_hist.emplace_back(std::to_string(k), v);
  return t;
}

Totals totals(const json& trace, const std::string& op, const std::string& kind) {
  return totals_any(trace, {op}, kind);
}

Totals flush_totals(const json& trace, const std::string& kind) {
  return totals_any(trace, {"write"}, kind, /*flushes=*/true);
}

std::vector<std::string> trace_violations(const Differential& d,
                                          const std::vector<std::string>& may_die) {
  std::vector<std::string> out;
  if (describe_status(d.dump_status()) != "exit 0")
    out.push_back("valley dump --json: " + describe_status(d.dump_status()) + ": " +
                  excerpt(d.dump_stderr(), 0, 600));
  const json& dump = d.dump();
  if (dump.is_discarded() || !dump.is_object()) {
    out.push_back("valley dump --json printed no valid JSON");
    return out;
  }
  if (!dump["problems"].empty()) out.push_back("dump problems: " + dump["problems"].dump());
  for (const json& t : traces(dump)) {
    std::string name = t.value("trace", std::string("?")) + " (" + program_of(t) + ")";
    if (!t.value("readable", false)) {
      out.push_back(name + ": unreadable segment");
      continue;
    }
    std::string state = t.value("state", std::string());
    bool died = state == "killed-or-crashed";
    if (died && std::find(may_die.begin(), may_die.end(), program_of(t)) == may_die.end())
      out.push_back(name + ": state " + state);

    uint64_t calls = 0;
    for (const json& c : t["counters"]) calls += c["calls"].get<uint64_t>();
    uint64_t events = t["event_calls_total"].get<uint64_t>() + t["events_dropped"].get<uint64_t>();
    // A killed process can leave one call counted whose event was never committed.
    uint64_t slack = died ? t["events_torn"].get<uint64_t>() + 1 : 0;
    if (calls > events + slack || events > calls + slack)
      out.push_back(name + ": counters hold " + std::to_string(calls) + " calls but " +
                    std::to_string(events) + " events were recorded or dropped");

    const json& cov = t["coverage"];
    if (!died && !cov.value("valid", false)) out.push_back(name + ": coverage not measured");
    if (cov.value("valid", false)) {
      for (auto [seen, kernel] : {std::pair{"seen_reads", "kernel_syscr"},
                                  {"seen_writes", "kernel_syscw"},
                                  {"seen_rbytes", "kernel_rchar"},
                                  {"seen_wbytes", "kernel_wchar"}}) {
        uint64_t s = cov[seen].get<uint64_t>(), k = cov[kernel].get<uint64_t>();
        if (s > k)
          out.push_back(name + ": coverage " + seen + " " + std::to_string(s) + " > " + kernel +
                        " " + std::to_string(k));
      }
    }
  }
  return out;
}

std::string join(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += "\n  - " + l;
  return s;
}

std::unique_ptr<Differential> run_case(Case c, const std::vector<std::string>& may_die) {
  auto d = std::make_unique<Differential>(std::move(c));
  std::vector<std::string> diffs = d->differences();
  EXPECT_TRUE(diffs.empty()) << "runs without and with valley differ:" << join(diffs);
  std::vector<std::string> bad = trace_violations(*d, may_die);
  EXPECT_TRUE(bad.empty()) << "implausible trace:" << join(bad);
  return d;
}

} // namespace valley::e2e
