#include <gtest/gtest.h>

#include "http/range.h"

namespace blobsync::http {
namespace {

TEST(RangeTest, Cases) {
  ByteRange r;
  EXPECT_EQ(parse_range(std::nullopt, 100, r), RangeResult::kNone);
  EXPECT_EQ(parse_range("bytes=0-0", 100, r), RangeResult::kSatisfiable);
  EXPECT_EQ(r.offset, 0u);
  EXPECT_EQ(r.length, 1u);
  EXPECT_EQ(parse_range("bytes=10-", 100, r), RangeResult::kSatisfiable);
  EXPECT_EQ(r.length, 90u);
  EXPECT_EQ(parse_range("bytes=-5", 100, r), RangeResult::kSatisfiable);
  EXPECT_EQ(r.offset, 95u);
  EXPECT_EQ(parse_range("bytes=-500", 100, r), RangeResult::kSatisfiable);
  EXPECT_EQ(r.offset, 0u);
  EXPECT_EQ(r.length, 100u);
  EXPECT_EQ(parse_range("bytes=90-1000", 100, r), RangeResult::kSatisfiable);
  EXPECT_EQ(r.length, 10u);
  EXPECT_EQ(parse_range("bytes=100-", 100, r), RangeResult::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=-0", 100, r), RangeResult::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=0-", 0, r), RangeResult::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=5-2", 100, r), RangeResult::kNone);
  EXPECT_EQ(parse_range("bytes=0-1,3-4", 100, r), RangeResult::kNone);
  EXPECT_EQ(parse_range("bytes=x-y", 100, r), RangeResult::kNone);
  EXPECT_EQ(parse_range("bytes=99999999999999999999-", 100, r), RangeResult::kNone);
  EXPECT_EQ(parse_range("lines=1-2", 100, r), RangeResult::kNone);
}

}  // namespace
}  // namespace blobsync::http
