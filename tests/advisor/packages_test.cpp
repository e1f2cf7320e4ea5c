// SPDX-License-Identifier: MIT
// Which package owns a module without symbols: dpkg -S asked once for every spelling of a
// path, its answer parsed; and a missing, failing or hanging dpkg costs at most the deadline
// and names no package (S-09).
#include "packages.h"
#include "trace_builder.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <sys/stat.h>

using namespace valley::advisor;
using valley::testing::TempDir;
using valley::testing::write_file;

namespace {

// A stand-in for dpkg: a shell script with this body, made executable.
PackageQuery fake_dpkg(const TempDir& dir, const std::string& body, int timeout_ms = 3000) {
  auto path = dir.path() / "dpkg";
  write_file(path, "#!/bin/sh\n" + body + "\n");
  ::chmod(path.c_str(), 0755);
  return {{path.string(), "-S"}, timeout_ms};
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

TEST(Packages, ParsesDpkgAnswersAndSkipsDiversionsAndErrors) {
  TempDir dir;
  PackageQuery q =
      fake_dpkg(dir, "echo 'diversion by dash from: /nonexistent/a/sh'\n"
                     "echo 'libfoo1:amd64, libfoo-extra: /nonexistent/a/libfoo.so.1'\n"
                     "echo 'dpkg-query: no path found matching pattern /nonexistent/a/x' >&2\n"
                     "echo 'bar: /nonexistent/a/bar'\n"
                     "exit 1");
  auto got = owning_packages(
      {"/nonexistent/a/libfoo.so.1", "/nonexistent/a/bar", "/nonexistent/a/x", "/nonexistent/a/sh"},
      q);
  EXPECT_EQ(got,
            (std::map<std::string, std::string>{{"/nonexistent/a/libfoo.so.1", "libfoo1:amd64"},
                                                {"/nonexistent/a/bar", "bar"}}));
  EXPECT_EQ(dbgsym_package("libfoo1:amd64"), "libfoo1-dbgsym");
  EXPECT_EQ(dbgsym_package("bar"), "bar-dbgsym");
}

// The loader says /lib/…, dpkg knows /usr/lib/… (merged /usr): both are asked, the answer
// goes back to the path as recorded.
TEST(Packages, AsksTheOtherMergedUsrSpelling) {
  TempDir dir;
  PackageQuery q = fake_dpkg(dir, "for p in \"$@\"; do [ \"$p\" = /usr/lib/nonexistent/libz.so.1 ] "
                                  "&& echo \"zlib1g:amd64: $p\"; done; exit 0");
  auto got = owning_packages({"/lib/nonexistent/libz.so.1"}, q);
  EXPECT_EQ(got,
            (std::map<std::string, std::string>{{"/lib/nonexistent/libz.so.1", "zlib1g:amd64"}}));
}

// Asked once: a second question about the same path does not run dpkg again (the fake counts
// its runs in a file).
TEST(Packages, AnswersAreCached) {
  TempDir dir;
  auto count = dir.path() / "runs";
  PackageQuery q = fake_dpkg(dir, "echo x >> '" + count.string() + "'; echo \"p: $2\"");
  auto a = owning_packages({"/nonexistent/cached/a"}, q);
  auto b = owning_packages({"/nonexistent/cached/a"}, q);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.at("/nonexistent/cached/a"), "p");
  EXPECT_EQ(std::filesystem::file_size(count), 2u) << "dpkg ran more than once";
}

TEST(Packages, HangingDpkgIsKilledAtTheDeadline) {
  TempDir dir;
  PackageQuery q = fake_dpkg(dir, "exec sleep 30", 300);
  auto t = std::chrono::steady_clock::now();
  auto got = owning_packages({"/nonexistent/slow/a"}, q);
  EXPECT_TRUE(got.empty());
  EXPECT_LT(seconds_since(t), 5.0);
}

TEST(Packages, MissingOrCrashingDpkgNamesNothing) {
  EXPECT_TRUE(
      owning_packages({"/nonexistent/m/a"}, {{"/nonexistent/bin/dpkg", "-S"}, 3000}).empty());
  TempDir dir;
  PackageQuery q = fake_dpkg(dir, "echo \"p: $2\"; kill -SEGV $$");
  EXPECT_TRUE(owning_packages({"/nonexistent/crash/a"}, q).empty());
}

// The real dpkg, where there is one: /usr/bin/dpkg belongs to the dpkg package, also when
// asked as /bin/dpkg (merged /usr).
TEST(Packages, RealDpkgKnowsItself) {
  if (::access("/usr/bin/dpkg", X_OK) != 0) GTEST_SKIP() << "no dpkg on this system";
  auto got = owning_packages({"/usr/bin/dpkg", "/bin/dpkg"});
  EXPECT_EQ(got["/usr/bin/dpkg"], "dpkg");
  EXPECT_EQ(got["/bin/dpkg"], "dpkg");
}

TEST(Packages, HintNamesTheDebugPackageAndTheBuildId) {
  UnnamedModule m{"/usr/bin/dd", "e59f95", "coreutils"};
  EXPECT_EQ(unnamed_module_text(m),
            "/usr/bin/dd: no symbol table and no debug info, so its frames show as dd+0xOFFSET; "
            "names come with coreutils-dbgsym (the debug symbols of package coreutils), or from a "
            "debuginfod server (DEBUGINFOD_URLS) for build-id e59f95");
  UnnamedModule n{"/tmp/x/app", "", ""};
  EXPECT_EQ(unnamed_module_text(n), "/tmp/x/app: no symbol table and no debug info, so its frames "
                                    "show as app+0xOFFSET; names come with its debug symbols (or a "
                                    "build with -g)");
}

} // namespace
