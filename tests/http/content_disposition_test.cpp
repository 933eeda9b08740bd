#include "http/content_disposition.h"

#include <gtest/gtest.h>

#include <string>

namespace blobsync::http {
namespace {

TEST(ContentDisposition, AsciiAndUtf8Forms) {
  EXPECT_EQ(attachment_disposition("photo.jpg", "x"), "attachment; filename=\"photo.jpg\"; filename*=UTF-8''photo.jpg");
  EXPECT_EQ(attachment_disposition("Relatório final.pdf", "x"),
            "attachment; filename=\"Relat_rio final.pdf\"; filename*=UTF-8''Relat%C3%B3rio%20final.pdf");
  EXPECT_EQ(attachment_disposition("日本.png", "x"),
            "attachment; filename=\"__.png\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.png");
}

TEST(ContentDisposition, FallbackWhenNoName) {
  EXPECT_EQ(attachment_disposition("", "abc123"), "attachment; filename=\"abc123\"; filename*=UTF-8''abc123");
  EXPECT_EQ(attachment_disposition("\r\n", ""), "attachment; filename=\"download\"; filename*=UTF-8''download");
}

TEST(ContentDisposition, InjectionAttempts) {
  // CR/LF cannot end the header; quotes and backslashes cannot end the quoted string.
  std::string h = attachment_disposition("a\r\nSet-Cookie: x=1", "f");
  EXPECT_EQ(h.find('\r'), std::string::npos);
  EXPECT_EQ(h.find('\n'), std::string::npos);
  EXPECT_EQ(h, "attachment; filename=\"aSet-Cookie: x=1\"; filename*=UTF-8''aSet-Cookie%3A%20x%3D1");
  EXPECT_EQ(attachment_disposition("evil\"; filename=\"x.exe", "f"),
            "attachment; filename=\"evil_; filename=_x.exe\"; filename*=UTF-8''evil%22%3B%20filename%3D%22x.exe");
  EXPECT_EQ(attachment_disposition("a\\\"b%41", "f"), "attachment; filename=\"a__b_41\"; filename*=UTF-8''a_%22b%2541");  // '\\' is a separator: '_'
  EXPECT_EQ(attachment_disposition("../../etc/passwd", "f"),
            "attachment; filename=\".._.._etc_passwd\"; filename*=UTF-8''.._.._etc_passwd");
  // A very long name is cut (255 bytes of name), never the header's structure.
  std::string h2 = attachment_disposition(std::string(100000, '"'), "f");
  EXPECT_LT(h2.size(), 1200u);
  EXPECT_TRUE(h2.starts_with("attachment; filename=\"___"));
  for (char c : h2) EXPECT_TRUE(static_cast<unsigned char>(c) >= 0x20 && c != 0x7F);
}

}  // namespace
}  // namespace blobsync::http
