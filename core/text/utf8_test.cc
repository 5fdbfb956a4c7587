#include "core/text/utf8.h"

#include "gtest/gtest.h"

namespace fleet::text {
namespace {

TEST(Utf8Test, WellFormedTextPasses) {
  for (const char* s : {"", "plain ascii", "caf\xC3\xA9", "\xE2\x82\xAC 5", "\xF0\x9F\x9A\x80",
                        "\xF4\x8F\xBF\xBF"}) {
    EXPECT_TRUE(IsValidUtf8(s)) << s;
    EXPECT_EQ(EscapeInvalidUtf8(s), s);
  }
}

TEST(Utf8Test, IllFormedBytesAreFoundAndEscaped) {
  EXPECT_EQ(FirstInvalidUtf8("ok\xFE\xFF"), 2u);
  EXPECT_EQ(EscapeInvalidUtf8("ok\xFE\xFF"), "ok\\xFE\\xFF");
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // Overlong '/'.
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // A surrogate.
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // Past U+10FFFF.
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));          // Cut short.
  EXPECT_EQ(EscapeInvalidUtf8("a\xE2\x82"), "a\\xE2\\x82");
  EXPECT_EQ(EscapeInvalidUtf8("\xFF caf\xC3\xA9"), "\\xFF caf\xC3\xA9");
}

}  // namespace
}  // namespace fleet::text
