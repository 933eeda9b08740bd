// MIME sniffing and normalisation.
#include "store/mime_sniffer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "test_util.h"

namespace blobsync {
namespace {

using testing::random_bytes;

TEST(MimeSniffer, SpecificGenericAndNormalised) {
  const unsigned char png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 'I', 'H', 'D', 'R',
                               0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89};
  auto p = sniff_mime(std::as_bytes(std::span(png)));
  EXPECT_EQ(p.mime, "image/png");
  EXPECT_TRUE(p.specific);
  auto pdf = sniff_mime(testing::as_bytes("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"));
  EXPECT_EQ(pdf.mime, "application/pdf");
  auto text = sniff_mime(testing::as_bytes("just some words\n"));
  EXPECT_EQ(text.mime, "text/plain");
  EXPECT_FALSE(text.specific);
  auto noise = sniff_mime(random_bytes(4096, 9));
  EXPECT_FALSE(noise.specific) << noise.mime;
  EXPECT_FALSE(sniff_mime({}).specific);

  EXPECT_EQ(normalize_mime("Image/PNG"), "image/png");
  EXPECT_EQ(normalize_mime(" text/plain ; charset=utf-8"), "text/plain");
  EXPECT_EQ(normalize_mime("application/vnd.api+json"), "application/vnd.api+json");
  EXPECT_EQ(normalize_mime(""), "");
  EXPECT_EQ(normalize_mime("image"), "");
  EXPECT_EQ(normalize_mime("/png"), "");
  EXPECT_EQ(normalize_mime("image/"), "");
  EXPECT_EQ(normalize_mime("text/html\r\nX-Evil: 1"), "");
  EXPECT_EQ(normalize_mime("a/b/c"), "");
}

// may_be_specific lets callers skip libmagic: it must never say no where
// sniff_mime would have named a specific type.
TEST(MimeSniffer, MayBeSpecificNeverMissesASpecificAnswer) {
  const unsigned char png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 'I', 'H', 'D', 'R',
                               0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89};
  EXPECT_TRUE(may_be_specific(std::as_bytes(std::span(png))));
  EXPECT_TRUE(may_be_specific(testing::as_bytes("<!DOCTYPE html><html><body>x</body></html>\n")));
  EXPECT_TRUE(may_be_specific(testing::as_bytes("{\"a\": [1, 2, 3]}")));
  EXPECT_TRUE(may_be_specific({}));
  int skipped = 0;
  for (std::uint64_t seed = 1; seed <= 400; ++seed) {
    auto b = random_bytes(64 + seed * 37 % 20000, seed);
    // Weak patterns at the start too: what libmagic guesses from (MZ, zlib...).
    if (seed % 4 == 0) b[0] = std::byte{'M'}, b[1] = std::byte{'Z'};
    if (seed % 4 == 1) b[0] = std::byte{0x78}, b[1] = std::byte{0x9c};
    if (may_be_specific(b)) continue;
    ++skipped;
    auto s = sniff_mime(b);
    EXPECT_FALSE(s.specific) << "seed " << seed << ": " << s.mime;
  }
  EXPECT_GT(skipped, 350);
}

// sniffs_as_octet_stream lets a CLI put skip libmagic even for its generic
// answer: where it says yes, sniff_mime must answer application/octet-stream;
// and it must say no for the binary content libmagic calls text/plain.
TEST(MimeSniffer, OctetStreamShortcutAgreesWithLibmagic) {
  int skipped = 0;
  for (std::uint64_t seed = 1; seed <= 600; ++seed) {
    auto b = random_bytes(64 + seed * 53 % 70000, seed);
    if (seed % 5 == 0) b[0] = std::byte{'M'}, b[1] = std::byte{'Z'};  // weak patterns libmagic guesses from
    if (seed % 5 == 1) b[0] = std::byte{0x78}, b[1] = std::byte{0x9c};
    if (seed % 5 == 2) b[0] = std::byte{0x1f}, b[1] = std::byte{0x1e};  // "packed data": octet-stream
    if (!sniffs_as_octet_stream(b)) continue;
    ++skipped;
    EXPECT_FALSE(may_be_specific(b)) << "seed " << seed;
    EXPECT_EQ(sniff_mime(b).mime, "application/octet-stream") << "seed " << seed;
  }
  EXPECT_GT(skipped, 500);

  auto with_nul = [](std::string_view start) {
    std::string s(start);
    s.append("some text\n");
    s.push_back('\0');
    s.append("\x01\x02 and more\n");
    return s;
  };
  // Text with a NUL, UTF-16 with its mark, UTF-7: libmagic reads them as text.
  const char utf16[] = "\xff\xfeh\0e\0l\0l\0o\0\n\0";
  EXPECT_FALSE(sniffs_as_octet_stream(testing::as_bytes(std::string_view(utf16, sizeof utf16 - 1))));
  EXPECT_FALSE(sniffs_as_octet_stream(testing::as_bytes("just some words\n")));  // no NUL: text
  EXPECT_FALSE(sniffs_as_octet_stream({}));
  // The binary rules of libmagic's database that answer text/plain.
  const char wer[] = "V\0e\0r\0s\0i\0o\0n\0=\0" "1\0\r\0\n\0E\0v\0e\0n\0t\0T\0y\0p\0e\0=\0x\0";
  for (std::string head : {with_nul("#usda 1.0\n"), std::string(wer, sizeof wer - 1), with_nul("[autorun]\r\n"),
                           with_nul(";comment\r\n[options]\r\n"), with_nul("\r\n[options]\r\n")}) {
    EXPECT_FALSE(sniffs_as_octet_stream(testing::as_bytes(head))) << head << " -> " << sniff_mime(testing::as_bytes(head)).mime;
  }
  EXPECT_EQ(sniff_mime(testing::as_bytes(with_nul("#usda 1.0\n"))).mime, "text/plain")
      << "libmagic's database changed: review the prefixes sniffs_as_octet_stream leaves to it";
  // A strong signature goes to libmagic (it may name the type).
  const unsigned char png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 'I', 'H', 'D', 'R'};
  EXPECT_FALSE(sniffs_as_octet_stream(std::as_bytes(std::span(png))));
}

TEST(MimeSniffer, ThreadsSniffConcurrently) {
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  const unsigned char gif[] = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i)
        if (sniff_mime(std::as_bytes(std::span(gif))).mime != "image/gif") ++wrong;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace blobsync
