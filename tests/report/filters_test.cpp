// SPDX-License-Identifier: MIT
// The values of --min-saving, --site, --command, --pid and --sort (advisor/filters.h): what
// each form means, and that a bad one is refused with the option and the value named.
#include "commands.h"
#include "filters.h"

#include <gtest/gtest.h>

namespace {

using namespace valley::advisor;

std::string refusal(auto&& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(Duration, UnitsScaleToNanoseconds) {
  EXPECT_EQ(parse_duration("--min-saving", "5ms"), 5e6);
  EXPECT_EQ(parse_duration("--min-saving", "1s"), 1e9);
  EXPECT_EQ(parse_duration("--min-saving", "200us"), 2e5);
  EXPECT_EQ(parse_duration("--min-saving", "200\u00b5s"), 2e5);
  EXPECT_EQ(parse_duration("--min-saving", "750ns"), 750);
  EXPECT_EQ(parse_duration("--min-saving", "1.5s"), 1.5e9);
  EXPECT_EQ(parse_duration("--min-saving", "0.25ms"), 2.5e5);
  EXPECT_EQ(parse_duration("--min-saving", "0"), 0);
}

TEST(Duration, BadValuesNameTheOptionAndTheValue) {
  for (const char* v :
       {"5", "5x", "", "-1ms", "ms", "nan", "infs", "1e3ms", "5 ms", "5MS", "99999999999s"}) {
    const std::string msg = refusal([&] { parse_duration("report: --min-saving", v); });
    EXPECT_NE(msg.find("report: --min-saving"), std::string::npos) << v << ": " << msg;
    EXPECT_NE(msg.find(std::string("'") + v + "'"), std::string::npos) << v << ": " << msg;
  }
  EXPECT_NE(refusal([] { parse_duration("--min-saving", "5"); }).find("unit is missing"),
            std::string::npos);
}

TEST(SiteSpecParse, ThreeForms) {
  SiteSpec a = parse_site_spec("--site", "valley_demo+0x11a9");
  EXPECT_EQ(a.kind, SiteSpec::Kind::module_offset);
  EXPECT_EQ(a.module, "valley_demo");
  EXPECT_EQ(a.offset, 0x11a9u);
  SiteSpec b = parse_site_spec("--site", "src/report.c:28");
  EXPECT_EQ(b.kind, SiteSpec::Kind::file_line);
  EXPECT_EQ(b.file, "src/report.c");
  EXPECT_EQ(b.line, 28);
  SiteSpec c = parse_site_spec("--site", "emit_row");
  EXPECT_EQ(c.kind, SiteSpec::Kind::function);
  EXPECT_EQ(c.function, "emit_row");
  // C++ scopes are names, not FILE:LINE.
  SiteSpec d = parse_site_spec("--site", "ns::Log::flush");
  EXPECT_EQ(d.kind, SiteSpec::Kind::function);
  EXPECT_EQ(d.function, "ns::Log::flush");
}

TEST(SiteSpecParse, BadValuesNameTheOptionAndTheValue) {
  for (const char* v :
       {"", "lib.so+0x", "lib.so+0xzz", "+0x10", "app.c:0", "app.c:12x", ":12", "app.c:-3"}) {
    const std::string msg = refusal([&] { parse_site_spec("dump: --site", v); });
    EXPECT_NE(msg.find("dump: --site"), std::string::npos) << v << ": " << msg;
    EXPECT_NE(msg.find(std::string("'") + v + "'"), std::string::npos) << v << ": " << msg;
  }
}

Frame frame(std::string module, uint64_t offset, std::string function, std::string file, int line) {
  Frame f;
  f.module = std::move(module);
  f.offset = offset;
  f.function = std::move(function);
  f.file = std::move(file);
  f.line = line;
  return f;
}

TEST(SiteSpecMatch, EachFormMatchesItsFrameOnly) {
  const Frame f =
      frame("/usr/bin/app", 0x1f0, "write_all(int, char const*)", "/home/u/src/io.c", 12);
  EXPECT_TRUE(parse_site_spec("--site", "app+0x1f0").matches(f));
  EXPECT_FALSE(parse_site_spec("--site", "app+0x1f1").matches(f));
  EXPECT_FALSE(parse_site_spec("--site", "/usr/bin/app+0x1f0").matches(f)); // file names only
  EXPECT_TRUE(parse_site_spec("--site", "io.c:12").matches(f));
  EXPECT_TRUE(parse_site_spec("--site", "src/io.c:12").matches(f));
  EXPECT_TRUE(parse_site_spec("--site", "/home/u/src/io.c:12").matches(f));
  EXPECT_FALSE(parse_site_spec("--site", "rc/io.c:12").matches(f)); // whole path components
  EXPECT_FALSE(parse_site_spec("--site", "io.c:13").matches(f));
  EXPECT_TRUE(parse_site_spec("--site", "write_all").matches(f));
  EXPECT_TRUE(parse_site_spec("--site", "write_all(int, char const*)").matches(f));
  EXPECT_FALSE(parse_site_spec("--site", "write").matches(f));
}

TEST(SiteSpecMatch, InlinedFunctionsAndCallersMatch) {
  Frame f = frame("/usr/bin/app", 0x10, "put", "io.h", 3);
  f.inlined_into.push_back({"main", "app.c", 40});
  EXPECT_TRUE(parse_site_spec("--site", "main").matches(f));
  EXPECT_TRUE(parse_site_spec("--site", "app.c:40").matches(f));
  const Frame lib = frame("/lib/libc.so.6", 0x99, "_IO_file_write", "", 0);
  const std::vector<SiteSpec> specs{parse_site_spec("--site", "main")};
  EXPECT_TRUE(site_matches(specs, lib, f));
  EXPECT_FALSE(site_matches(specs, lib, std::nullopt));
}

TEST(Command, GlobMatchesArgv0OrExecutableFileName) {
  ProcessFilter p;
  p.commands = {"python3*"};
  EXPECT_TRUE(p.matches(7, {"/usr/bin/python3", "x.py"}, "/usr/bin/python3.11"));
  EXPECT_TRUE(p.matches(7, {"py"}, "/usr/bin/python3.11"));     // by the executable
  EXPECT_TRUE(p.matches(7, {"python3-dbg"}, "/usr/bin/other")); // by argv[0]
  EXPECT_FALSE(p.matches(7, {"perl"}, "/usr/bin/perl"));
  EXPECT_FALSE(p.matches(7, {}, "")); // unknown command
  p.commands = {"*/python3"};         // file names have no '/'
  EXPECT_FALSE(p.matches(7, {"/usr/bin/python3"}, "/usr/bin/python3"));
}

TEST(Command, PidsAreAlternativesAndBothOptionsMustHold) {
  ProcessFilter p;
  parse_pids("--pid", "12,13", p.pids);
  parse_pids("--pid", "20", p.pids);
  EXPECT_EQ(p.pids, (std::vector<uint32_t>{12, 13, 20}));
  EXPECT_TRUE(p.matches(13, {}, ""));
  EXPECT_FALSE(p.matches(14, {"sh"}, "/bin/sh"));
  p.commands = {"sh"};
  EXPECT_TRUE(p.matches(20, {"sh"}, "/bin/dash"));
  EXPECT_FALSE(p.matches(20, {"bash"}, "/bin/bash"));
  EXPECT_EQ(p.describe(), "--pid 12 --pid 13 --pid 20 --command sh");
  for (const char* v : {"", "0", "12,", "x", "-3", "12,,13", "99999999999"}) {
    std::vector<uint32_t> pids;
    const std::string msg = refusal([&] { parse_pids("report: --pid", v, pids); });
    EXPECT_NE(msg.find("report: --pid"), std::string::npos) << v << ": " << msg;
  }
  EXPECT_NE(refusal([] { parse_glob("report: --command", ""); }).find("report: --command"),
            std::string::npos);
}

TEST(Sort, Keys) {
  EXPECT_EQ(parse_sort("--sort", "saving"), SortKey::saving);
  EXPECT_EQ(parse_sort("--sort", "calls"), SortKey::calls);
  EXPECT_EQ(parse_sort("--sort", "time"), SortKey::time);
  const std::string msg = refusal([] { parse_sort("report: --sort", "size"); });
  EXPECT_NE(msg.find("report: --sort"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'size'"), std::string::npos) << msg;
}

} // namespace
