// SPDX-License-Identifier: MIT
/// @file subprocess.h
/// @brief Runs a program with chosen stdin, environment changes and directory, capturing its
/// stdout, stderr and wait status. For tests of the built `valley` binary.
#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

namespace valley::testing {

struct SpawnOptions {
  std::string input;            ///< written to stdin, then stdin is closed
  std::vector<std::string> env; ///< "NAME=VALUE" to set, "NAME" to unset
  std::string cwd;              ///< empty: the test's own
};

struct Outcome {
  int status = 0; ///< as from waitpid
  std::string out, err;
  bool exited(int code) const;
  bool signaled(int sig) const;
  std::string describe() const; ///< for assertion messages
};

/// A running child; its pipes are drained by wait().
class Child {
public:
  Child(const std::vector<std::string>& argv, const SpawnOptions& o = {});
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  /// Reads stdout until it contains `text` or `seconds` pass; true if found.
  bool wait_for_output(const std::string& text, double seconds);
  /// Waits for exit (killing the child after `seconds`) and collects the rest of its output.
  Outcome wait(double seconds = 30);

private:
  bool pump(int timeout_ms);
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
  std::string input_;
  size_t written_ = 0;
  Outcome result_;
};

Outcome run(const std::vector<std::string>& argv, const SpawnOptions& o = {});

} // namespace valley::testing
