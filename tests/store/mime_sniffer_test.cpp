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
