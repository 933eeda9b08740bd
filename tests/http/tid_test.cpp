// TIDs (src/http/tid.cpp): encoding, validation, monotonic generation.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http/tid.h"

namespace blobsync::http {
namespace {

TEST(TidTest, IncreasingAndValid) {
  std::string prev = next_tid();
  EXPECT_TRUE(is_valid_tid(prev));
  for (int i = 0; i < 1000; ++i) {
    std::string t = next_tid();
    EXPECT_TRUE(is_valid_tid(t)) << t;
    EXPECT_GT(t, prev);
    prev = t;
  }
  EXPECT_EQ(encode_tid(0), "2222222222222");
  EXPECT_FALSE(is_valid_tid("222222222222"));
  EXPECT_FALSE(is_valid_tid("z222222222222"));
}

// 13 characters of base32-sortable, most significant first (65 bits for a
// 64-bit value, so the first character is one of "234567abcdefghij"; with the
// top bit 0 it is at most 'b').
TEST(TidTest, EncodingIsBase32SortableBigEndian) {
  EXPECT_EQ(encode_tid(1), "2222222222223");
  EXPECT_EQ(encode_tid(31), "222222222222z");
  EXPECT_EQ(encode_tid(32), "2222222222232");
  EXPECT_EQ(encode_tid(~std::uint64_t{0} >> 1), "bzzzzzzzzzzzz");
  EXPECT_EQ(encode_tid(~std::uint64_t{0}), "jzzzzzzzzzzzz");
  EXPECT_TRUE(is_valid_tid(encode_tid(~std::uint64_t{0} >> 1)));
  // Encoded order is numeric order.
  EXPECT_LT(encode_tid(999), encode_tid(1000));
  EXPECT_LT(encode_tid(1ull << 40), encode_tid((1ull << 40) + 1));
}

TEST(TidTest, InvalidShapesAreRefused) {
  EXPECT_FALSE(is_valid_tid(""));
  EXPECT_FALSE(is_valid_tid("22222222222222"));  // 14 characters
  EXPECT_FALSE(is_valid_tid("k222222222222"));   // more than 64 bits
  EXPECT_FALSE(is_valid_tid("2222222222221"));   // '1' is not base32-sortable
  EXPECT_FALSE(is_valid_tid("222222222222A"));   // upper case
  EXPECT_FALSE(is_valid_tid(std::string_view("222222\0222222", 13)));
  EXPECT_TRUE(is_valid_tid("3jzfcijpj2z2a"));
}

// next_tid() is strictly increasing across threads too.
TEST(TidTest, IncreasingAcrossThreads) {
  std::vector<std::vector<std::string>> seen(4);
  std::vector<std::thread> threads;
  for (auto& out : seen)
    threads.emplace_back([&out] {
      for (int i = 0; i < 2000; ++i) out.push_back(next_tid());
    });
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& out : seen) {
    for (std::size_t i = 1; i < out.size(); ++i) EXPECT_LT(out[i - 1], out[i]);
    all.insert(out.begin(), out.end());
  }
  EXPECT_EQ(all.size(), 4u * 2000);  // no two threads got the same TID
}

}  // namespace
}  // namespace blobsync::http
