// SPDX-License-Identifier: MIT
/// @file subprocess.cpp
/// @brief fork/exec with three pipes and a poll loop.
#include "subprocess.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace valley::testing {

bool Outcome::exited(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
bool Outcome::signaled(int sig) const { return WIFSIGNALED(status) && WTERMSIG(status) == sig; }

std::string Outcome::describe() const {
  std::string how = WIFEXITED(status)     ? "exit " + std::to_string(WEXITSTATUS(status))
                    : WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                          : "status " + std::to_string(status);
  return how + "\n--- stdout:\n" + out + "--- stderr:\n" + err;
}

Child::Child(const std::vector<std::string>& argv, const SpawnOptions& o) : input_(o.input) {
  ::signal(SIGPIPE, SIG_IGN); // a child that exits early must not kill the test with our write
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC))
    throw std::runtime_error("pipe failed");
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    for (const std::string& e : o.env) {
      size_t eq = e.find('=');
      if (eq == std::string::npos)
        ::unsetenv(e.c_str());
      else
        ::setenv(e.substr(0, eq).c_str(), e.c_str() + eq + 1, 1);
    }
    if (!o.cwd.empty() && ::chdir(o.cwd.c_str()) != 0) ::_exit(125);
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::dprintf(2, "test: cannot exec %s: %s\n", args[0], std::strerror(errno));
    ::_exit(125);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  in_ = in[1];
  out_ = out[0];
  err_ = err[0];
  ::fcntl(in_, F_SETFL, O_NONBLOCK);
  if (input_.empty()) {
    ::close(in_);
    in_ = -1;
  }
}

Child::~Child() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  for (int fd : {in_, out_, err_})
    if (fd >= 0) ::close(fd);
}

// One poll round; false when all pipes are closed.
bool Child::pump(int timeout_ms) {
  pollfd fds[3] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}, {in_, POLLOUT, 0}};
  if (out_ < 0 && err_ < 0 && in_ < 0) return false;
  if (::poll(fds, 3, timeout_ms) < 0) return errno == EINTR;
  char buf[4096];
  int* fds_owned[2] = {&out_, &err_};
  std::string* sinks[2] = {&result_.out, &result_.err};
  for (int i = 0; i < 2; ++i) {
    if (*fds_owned[i] < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    ssize_t n = ::read(*fds_owned[i], buf, sizeof buf);
    if (n > 0) {
      sinks[i]->append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      ::close(*fds_owned[i]);
      *fds_owned[i] = -1;
    }
  }
  if (in_ >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
    ssize_t n = ::write(in_, input_.data() + written_, input_.size() - written_);
    if (n > 0) written_ += static_cast<size_t>(n);
    if ((n < 0 && errno != EAGAIN && errno != EINTR) || written_ == input_.size()) {
      ::close(in_);
      in_ = -1;
    }
  }
  return true;
}

bool Child::wait_for_output(const std::string& text, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (result_.out.find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline || !pump(50)) return false;
  }
  return true;
}

Outcome Child::wait(double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (pump(50)) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      result_.err += "\n[test: killed after timeout]\n";
      break;
    }
  }
  ::waitpid(pid_, &result_.status, 0);
  pid_ = -1;
  return result_;
}

Outcome run(const std::vector<std::string>& argv, const SpawnOptions& o) {
  Child c(argv, o);
  return c.wait();
}

} // namespace valley::testing
