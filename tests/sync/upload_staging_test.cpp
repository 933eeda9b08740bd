#include "sync/upload_staging.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/chunking.h"
#include "core/sha256.h"

namespace blobsync::sync {
namespace {

struct Blob {
  std::vector<std::uint8_t> data;
  std::vector<Digest> hashes;
  Digest hash;
};

Blob make_blob(std::size_t size) {
  Blob b;
  b.data.resize(size);
  for (std::size_t i = 0; i < size; ++i) b.data[i] = static_cast<std::uint8_t>(i * 7 + i / 1000);
  for (std::uint64_t i = 0; i < chunk_count(size); ++i)
    b.hashes.push_back(Sha256::of(b.data.data() + chunk_offset(i), chunk_length(i, size)));
  b.hash = Sha256::of(b.data.data(), size);
  return b;
}

std::span<const std::uint8_t> chunk(const Blob& b, std::uint64_t i) {
  return {b.data.data() + chunk_offset(i), chunk_length(i, b.data.size())};
}

TEST(UploadStaging, ResumesWithMissingChunksOnly) {
  auto dir = std::filesystem::temp_directory_path() / ("staging_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  UploadStaging staging(dir, std::chrono::hours(24));
  ASSERT_TRUE(staging.init());
  auto b = make_blob(5 * kChunkSize + 100);
  ASSERT_TRUE(staging.claim(b.hash));
  EXPECT_FALSE(staging.claim(b.hash));  // one upload per blob
  {
    auto s = staging.open(b.hash, b.data.size(), b.hashes);
    ASSERT_TRUE(s) << s.error().to_string();
    EXPECT_EQ((*s)->missing(), (std::vector<protocol::ChunkRange>{{0, 6}}));
    ASSERT_TRUE((*s)->write_chunk(0, chunk(b, 0)));
    ASSERT_TRUE((*s)->write_chunk(3, chunk(b, 3)));
    ASSERT_TRUE((*s)->write_chunk(5, chunk(b, 5)));
    EXPECT_EQ((*s)->write_chunk(2, chunk(b, 5)).error().code, Errc::kInvalidArgument);  // wrong length
    EXPECT_EQ((*s)->write_chunk(2, chunk(b, 1)).error().code, Errc::kCorruption);       // another chunk's bytes
    std::vector<std::uint8_t> bad(chunk(b, 1).begin(), chunk(b, 1).end());
    bad[10] ^= 1;
    EXPECT_EQ((*s)->write_chunk(1, bad).error().code, Errc::kCorruption);
    EXPECT_FALSE((*s)->has(1));
  }
  // Reopened (a later connection): the verified chunks are still there.
  auto s = staging.open(b.hash, b.data.size(), b.hashes);
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)->missing(), (std::vector<protocol::ChunkRange>{{1, 2}, {4, 1}}));
  EXPECT_EQ((*s)->missing_count(), 3u);
  // Different chunk hashes for the same blob: start over.
  auto other = b.hashes;
  other[0].bytes[0] ^= 1;
  {
    auto fresh = staging.open(b.hash, b.data.size(), other);
    ASSERT_TRUE(fresh);
    EXPECT_EQ((*fresh)->missing_count(), 6u);
  }
  // A lost write (bytes changed on disk behind the bitmap) is found by reverify.
  auto again = staging.open(b.hash, b.data.size(), b.hashes);
  ASSERT_TRUE(again);
  for (std::uint64_t i = 0; i < 6; ++i) ASSERT_TRUE((*again)->write_chunk(i, chunk(b, i)));
  EXPECT_EQ((*again)->reverify().value(), 0u);
  std::vector<std::uint8_t> whole(b.data.size());
  ASSERT_TRUE((*again)->read(0, whole));
  EXPECT_EQ(whole, b.data);
  staging.unclaim(b.hash);
  staging.remove(b.hash);
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  std::filesystem::remove_all(dir);
}

TEST(UploadStaging, StagingBytesAreCapped) {
  auto dir = std::filesystem::temp_directory_path() / ("staging_cap_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto b = make_blob(3 * kChunkSize);
  auto c = make_blob(2 * kChunkSize + 5);
  {
    UploadStaging staging(dir, std::chrono::hours(24), 4 * kChunkSize);
    ASSERT_TRUE(staging.init());
    // In progress, an upload counts its declared size.
    ASSERT_EQ(staging.claim(b.hash, b.data.size()), UploadStaging::Claim::kOk);
    EXPECT_EQ(staging.staged_bytes(), 3 * kChunkSize);
    EXPECT_EQ(staging.claim(b.hash, b.data.size()), UploadStaging::Claim::kBusy);
    EXPECT_EQ(staging.claim(c.hash, c.data.size()), UploadStaging::Claim::kFull);
    auto s = staging.open(b.hash, b.data.size(), b.hashes);
    ASSERT_TRUE(s);
    ASSERT_TRUE((*s)->write_chunk(1, chunk(b, 1)));
    // Kept for a resume, it counts the bytes it holds.
    staging.unclaim(b.hash);
    EXPECT_EQ(staging.staged_bytes(), kChunkSize);
    ASSERT_EQ(staging.claim(c.hash, c.data.size()), UploadStaging::Claim::kOk);
    EXPECT_EQ(staging.staged_bytes(), kChunkSize + c.data.size());
    staging.unclaim(c.hash);  // nothing written: counts nothing
    EXPECT_EQ(staging.staged_bytes(), kChunkSize);
  }
  {
    // A restart counts what earlier runs left.
    UploadStaging staging(dir, std::chrono::hours(24), 4 * kChunkSize);
    ASSERT_TRUE(staging.init());
    EXPECT_EQ(staging.staged_bytes(), kChunkSize);
    staging.remove(b.hash);
    EXPECT_EQ(staging.staged_bytes(), 0u);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace blobsync::sync
