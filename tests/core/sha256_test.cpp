#include "core/sha256.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace blobsync {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(Sha256::of("abc", 3).hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(Sha256::of(m.data(), m.size()).hex(), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, StreamingEqualsOneShotForEverySplit) {
  std::mt19937 rng(7);
  std::vector<unsigned char> data(10000);
  for (auto& b : data) b = static_cast<unsigned char>(rng());
  Digest whole = Sha256::of(data.data(), data.size());
  Sha256 h;
  for (std::size_t split : {0u, 1u, 63u, 64u, 65u, 4096u, 9999u, 10000u}) {
    h.update(data.data(), split);
    h.update(data.data() + split, data.size() - split);
    EXPECT_EQ(h.finish(), whole) << "split " << split;  // finish() resets
  }
}

}  // namespace
}  // namespace blobsync
