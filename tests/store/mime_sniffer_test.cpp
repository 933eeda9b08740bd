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
