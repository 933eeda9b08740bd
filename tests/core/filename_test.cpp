#include "core/filename.h"

#include <gtest/gtest.h>

#include <string>

namespace blobsync {
namespace {

TEST(FilenameTest, KeepsOrdinaryNames) {
  EXPECT_EQ(sanitize_filename("photo.jpg"), "photo.jpg");
  EXPECT_EQ(sanitize_filename("Relatório final (v2).pdf"), "Relatório final (v2).pdf");
  EXPECT_EQ(sanitize_filename("\"quoted\" name;.txt"), "\"quoted\" name;.txt");  // quoting is the header's job
  EXPECT_EQ(sanitize_filename(".bashrc"), ".bashrc");
  EXPECT_EQ(sanitize_filename("日本語.png"), "日本語.png");
}

TEST(FilenameTest, NoPathsNoControls) {
  EXPECT_EQ(sanitize_filename("../../etc/passwd"), ".._.._etc_passwd");
  EXPECT_EQ(sanitize_filename("C:\\Windows\\x.exe"), "C:_Windows_x.exe");
  EXPECT_EQ(sanitize_filename("a\r\nSet-Cookie: x=1"), "aSet-Cookie: x=1");
  EXPECT_EQ(sanitize_filename(std::string("a\0b", 3)), "ab");
  EXPECT_EQ(sanitize_filename("tab\there\x7f"), "tabhere");
  EXPECT_EQ(sanitize_filename("c1\xC2\x85x"), "c1x");                    // U+0085 NEL
  EXPECT_EQ(sanitize_filename("invoice\xE2\x80\xAEgpj.exe"), "invoicegpj.exe");  // U+202E RLO
  EXPECT_EQ(sanitize_filename("line\xE2\x80\xA8sep"), "linesep");         // U+2028
}

TEST(FilenameTest, InvalidUtf8IsDropped) {
  EXPECT_EQ(sanitize_filename("a\xFF" "b"), "ab");
  EXPECT_EQ(sanitize_filename("a\xC0\xAF" "b"), "ab");          // overlong '/'
  EXPECT_EQ(sanitize_filename("a\xED\xA0\x80" "b"), "ab");      // a surrogate
  EXPECT_EQ(sanitize_filename("a\xE2\x82"), "a");               // cut short
}

TEST(FilenameTest, EmptyDotsAndSpaces) {
  EXPECT_EQ(sanitize_filename(""), "");
  EXPECT_EQ(sanitize_filename("   "), "");
  EXPECT_EQ(sanitize_filename("."), "");
  EXPECT_EQ(sanitize_filename(" .. "), "");
  EXPECT_EQ(sanitize_filename("\r\n"), "");
  EXPECT_EQ(sanitize_filename("  a b  "), "a b");
}

TEST(FilenameTest, LengthLimitAtACharacterBoundary) {
  EXPECT_EQ(sanitize_filename(std::string(10000, 'x')), std::string(kMaxFilenameBytes, 'x'));
  std::string euros;
  for (int i = 0; i < 200; ++i) euros += "\xE2\x82\xAC";  // 3 bytes each
  std::string kept = sanitize_filename(euros);
  EXPECT_EQ(kept.size(), 255u);  // 85 whole characters
  EXPECT_EQ(kept, euros.substr(0, 255));
  std::string shifted = "a" + euros;
  EXPECT_EQ(sanitize_filename(shifted).size(), 253u);  // 'a' + 84 characters: no half character
}

}  // namespace
}  // namespace blobsync
