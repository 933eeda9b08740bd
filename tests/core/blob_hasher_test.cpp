// BlobHasher (and the SHA-NI kernel under it) against OpenSSL's SHA-256.
#include "core/blob_hasher.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/chunking.h"
#include "core/sha256.h"
#include "core/sha256_kernel.h"

namespace blobsync {
namespace {

std::vector<std::byte> random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng());
  return out;
}

class BlobHasherTest : public ::testing::TestWithParam<bool> {};

TEST_P(BlobHasherTest, KernelPathIsUsedWhenAvailable) {
  BlobHasher h(GetParam());
  EXPECT_EQ(h.uses_kernel(), GetParam() && sha256_kernel::available());
}

TEST_P(BlobHasherTest, KnownVectors) {
  BlobHasher h(GetParam());
  EXPECT_EQ(h.finish().hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::string abc = "abc";
  h.update(std::as_bytes(std::span(abc)));
  EXPECT_EQ(h.finish().hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // 56 bytes: the padding needs a second block.
  std::string m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  h.update(std::as_bytes(std::span(m)));
  EXPECT_EQ(h.finish().hex(), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

// Every length from 0 to 300 around the padding edges, fed in random pieces.
TEST_P(BlobHasherTest, EveryShortLengthInRandomPieces) {
  auto data = random_bytes(300, 1);
  std::mt19937 rng(2);
  BlobHasher h(GetParam());
  for (std::size_t len = 0; len <= data.size(); ++len) {
    std::span<const std::byte> rest(data.data(), len);
    while (!rest.empty()) {
      std::size_t n = std::min<std::size_t>(rest.size(), rng() % 80);
      h.update(rest.first(n));
      rest = rest.subspan(n);
    }
    ASSERT_EQ(h.finish(), Sha256::of(data.data(), len)) << "length " << len;
  }
}

// Chunks hashed together with the whole blob, as the ingest pipeline does:
// some chunks through update_with_chunk, the others through update (their
// digests computed elsewhere), over blob sizes that end inside, at and just
// after chunk and block boundaries.
TEST_P(BlobHasherTest, ChunkDigestsAndWholeDigestMatchOpenSsl) {
  const std::size_t c = kChunkSize;
  auto data = random_bytes(3 * c + 200, 3);
  std::mt19937 rng(4);
  BlobHasher h(GetParam());
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{64}, std::size_t{65},
                           c - 1, c, c + 1, c + 64, 2 * c + 127, 3 * c, 3 * c + 200}) {
    for (int pattern = 0; pattern < 4; ++pattern) {
      for (std::uint64_t i = 0; i < chunk_count(size); ++i) {
        std::span<const std::byte> chunk(data.data() + chunk_offset(i), chunk_length(i, size));
        bool joint = pattern == 0 || (pattern == 2 && i % 2 == 0) || (pattern == 3 && rng() % 2);
        if (joint) {
          ASSERT_EQ(h.update_with_chunk(chunk), Sha256::of(chunk)) << "size " << size << " chunk " << i;
        } else {
          // Uneven pieces: the whole-blob state leaves the block boundary inside.
          std::size_t cut = std::min<std::size_t>(chunk.size(), 1 + rng() % 100);
          h.update(chunk.first(cut));
          h.update(chunk.subspan(cut));
        }
      }
      ASSERT_EQ(h.finish(), Sha256::of(data.data(), size)) << "size " << size << " pattern " << pattern;
    }
  }
}

// A chunk fed while the whole-blob state is mid-block still gets both right.
TEST_P(BlobHasherTest, ChunkOffBlockBoundary) {
  auto data = random_bytes(5000, 5);
  BlobHasher h(GetParam());
  h.update(std::span(data).first(10));
  auto chunk = std::span<const std::byte>(data).subspan(10, 4000);
  EXPECT_EQ(h.update_with_chunk(chunk), Sha256::of(chunk));
  h.update(std::span<const std::byte>(data).subspan(4010));
  EXPECT_EQ(h.finish(), Sha256::of(data.data(), data.size()));
}

INSTANTIATE_TEST_SUITE_P(Paths, BlobHasherTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Kernel" : "OpenSsl"; });

}  // namespace
}  // namespace blobsync
