// SPDX-License-Identifier: MIT
/// @file commands.h
/// @brief The `valley` subcommands. Each takes the arguments after its name.
#pragma once

#include <span>
#include <stdexcept>
#include <string>

namespace valley::advisor {

/// Bad command-line arguments: main() prints it and exits with status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Args = std::span<const std::string>;

int run_dump(Args args);
int run_export(Args args);
int run_run(Args args);
int run_report(Args args);

/// The most recently changed ./valley.* directory (as `valley run` names them), or "": the
/// default run directory of report and export.
std::string newest_run_dir();

extern const char* const kDumpHelp;
extern const char* const kExportHelp;
extern const char* const kRunHelp;
extern const char* const kReportHelp;

} // namespace valley::advisor
