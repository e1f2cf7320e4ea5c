// SPDX-License-Identifier: MIT
/// @file packages.h
/// @brief Which Debian package installed a module that has no symbols, so the report can say
/// where names would come from (its -dbgsym package, or debuginfod by build-id). An optional
/// nicety: no dpkg, a slow or a failing one only means no package is named (S-09).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace valley::advisor {

/// A module whose frames print as module+0xOFFSET: no symbol table and no debug info found.
struct UnnamedModule {
  std::string path;     ///< as recorded
  std::string build_id; ///< hex, of the file on disk; empty when it has none
  std::string package;  ///< the installed package that owns the file; empty when unknown
};

struct PackageQuery {
  std::vector<std::string> command{"dpkg", "-S"}; ///< the paths are appended
  int timeout_ms = 3000;                          ///< then the query is killed
};

/// The package owning each of `paths` ("libsqlite3-0:amd64"), from one run of `dpkg -S`
/// for all of them, each also asked under its other merged-/usr spelling and its real path.
/// Paths dpkg does not know are absent. Answers are cached for the life of the process.
std::map<std::string, std::string> owning_packages(const std::vector<std::string>& paths,
                                                   const PackageQuery& q = {});

/// Fills UnnamedModule::package for each module.
void find_packages(std::vector<UnnamedModule>& modules, const PackageQuery& q = {});

/// Debian's automatic debug-symbol package for a binary package: "libsqlite3-0:amd64" →
/// "libsqlite3-0-dbgsym".
std::string dbgsym_package(const std::string& package);

/// One sentence for the report: what the module lacks and where its names would come from.
std::string unnamed_module_text(const UnnamedModule& m);

} // namespace valley::advisor
