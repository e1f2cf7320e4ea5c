// SPDX-License-Identifier: MIT
/// @file main.cpp
/// @brief The `valley` command line: picks the subcommand; the only place that catches.
#include "commands.h"

#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace valley::advisor;

struct Command {
  std::string_view name;
  std::string_view summary;
  const char* help;
  int (*run)(Args);
};

const Command kCommands[] = {
    {"run", "run a program with every process of it traced", kRunHelp, run_run},
    {"report", "what to change: findings ranked by predicted saving", kReportHelp, run_report},
    {"dump", "print everything a run directory holds", kDumpHelp, run_dump},
    {"export", "the run as a Perfetto trace or JSON Lines", kExportHelp, run_export},
};

const Command* find(std::string_view name) {
  for (const Command& c : kCommands)
    if (c.name == name) return &c;
  return nullptr;
}

void usage(std::FILE* out) {
  fmt::print(out, "usage: valley COMMAND [ARGS...]\n\ncommands:\n");
  for (const Command& c : kCommands)
    fmt::print(out, "  {:<6} {}\n", c.name, c.summary);
  fmt::print(out, "\n'valley help COMMAND' (or 'valley COMMAND --help') explains one command.\n"
                  "'valley --version' prints the version.\n");
}

int dispatch(const std::vector<std::string>& args) {
  if (args.empty()) {
    usage(stderr);
    return 2;
  }
  const std::string& first = args[0];
  if (first == "--help" || first == "-h") {
    usage(stdout);
    return 0;
  }
  if (first == "--version") {
    fmt::print("valley {}\n", VALLEY_VERSION);
    return 0;
  }
  if (first == "help") {
    if (args.size() == 1) {
      usage(stdout);
      return 0;
    }
    const Command* c = find(args[1]);
    if (!c) throw UsageError(fmt::format("help: unknown command '{}'", args[1]));
    std::fputs(c->help, stdout);
    return 0;
  }
  const Command* c = find(first);
  if (!c) throw UsageError(fmt::format("unknown command '{}'", first));
  Args rest = Args(args).subspan(1);
  if (!rest.empty() && (rest[0] == "--help" || rest[0] == "-h")) {
    std::fputs(c->help, stdout);
    return 0;
  }
  return c->run(rest);
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return dispatch(args);
  } catch (const UsageError& e) {
    fmt::print(stderr, "valley: error: {}\nvalley: hint: see 'valley --help'\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "valley: error: {}\n", e.what());
    return 1;
  }
}
