#include "core/chunking.h"

#include <gtest/gtest.h>

namespace blobsync {
namespace {

TEST(Chunking, CountsAndLengths) {
  EXPECT_EQ(chunk_count(0), 0u);
  EXPECT_EQ(chunk_count(1), 1u);
  EXPECT_EQ(chunk_count(kChunkSize), 1u);
  EXPECT_EQ(chunk_count(kChunkSize + 1), 2u);
  EXPECT_EQ(chunk_count(307200), 2u);
  EXPECT_EQ(chunk_length(0, kChunkSize + 1), kChunkSize);
  EXPECT_EQ(chunk_length(1, kChunkSize + 1), 1u);
  EXPECT_EQ(chunk_offset(3), 3 * kChunkSize);
}

}  // namespace
}  // namespace blobsync
