// SPDX-License-Identifier: MIT
// The escaping every text output uses for names from a trace, and the number helpers that
// keep hostile values defined.
#include "json_text.h"
#include "text.h"

#include <gtest/gtest.h>

using namespace valley::advisor;

TEST(Printable, KeepsWellFormedTextAndEscapesEverythingATerminalActsOn) {
  EXPECT_EQ(printable("/data/out.csv"), "/data/out.csv");
  EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(printable("a\nb\tc\x1b[31m\x7f"), "a\\x0ab\\x09c\\x1b[31m\\x7f");
  EXPECT_EQ(printable("back\\slash"), "back\\x5cslash"); // so that the escape can be undone
  EXPECT_EQ(printable("csi\xc2\x9b"
                      "2J"),
            "csi\\xc2\\x9b2J"); // U+009B, a C1 control
  EXPECT_EQ(printable("rlo\xe2\x80\xae"
                      "txt"),
            "rlo\\xe2\\x80\\xaetxt"); // U+202E
  EXPECT_EQ(printable("ls\xe2\x80\xa8"
                      "x"),
            "ls\\xe2\\x80\\xa8x");                                  // U+2028
  EXPECT_EQ(printable("caf\xe9.csv"), "caf\\xe9.csv");              // Latin-1
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");                   // overlong '/'
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");          // a surrogate
  EXPECT_EQ(printable("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); // above U+10FFFF
  EXPECT_EQ(printable("cut\xe2\x82"), "cut\\xe2\\x82");             // truncated
  EXPECT_EQ(printable(std::string("nul\0x", 5)), "nul\\x00x");
}

TEST(JsonText, ReplacesEachIllFormedSubsequenceWithU_FFFD) {
  EXPECT_EQ(json_quote("caf\xe9.csv"), "\"caf\xef\xbf\xbd.csv\"");
  EXPECT_EQ(json_quote("\xe2\x82."), "\"\xef\xbf\xbd.\""); // one U+FFFD for the cut sequence
  EXPECT_EQ(json_quote("a\nb\x1b"), "\"a\\nb\\u001b\"");
  EXPECT_EQ(json_text(nlohmann::json{{"k", "\xff"}}, 1), "{\n \"k\": \"\xef\xbf\xbd\"\n}");
}

TEST(ErrnoName, NamesKnownValuesAndShowsAnyOther) {
  EXPECT_EQ(errno_name(11), "EAGAIN");
  EXPECT_EQ(errno_name(4242), "errno 4242");
  EXPECT_EQ(errno_name(2147483648), "errno 2147483648"); // -(INT32_MIN)
  EXPECT_EQ(errno_name(-5), "errno -5");
}

TEST(SaturateU64, ClampsInsteadOfOverflowing) {
  EXPECT_EQ(saturate_u64(-1.0), 0u);
  EXPECT_EQ(saturate_u64(0.0 / 0.0), 0u);
  EXPECT_EQ(saturate_u64(12.9), 12u);
  EXPECT_EQ(saturate_u64(18446744073709551616.0), UINT64_MAX);
  EXPECT_EQ(saturate_u64(1e300), UINT64_MAX);
  EXPECT_EQ(saturate_u64(9223372036854775808.0), uint64_t{1} << 63);
}
