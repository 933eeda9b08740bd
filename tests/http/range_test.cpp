// HTTP Range headers (src/http/range.cpp): one "bytes=" range, RFC 9110.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

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

// Satisfiable ranges: the bytes chosen. One row per header.
TEST(RangeTest, ExactBoundsAndWhitespace) {
  constexpr std::uint64_t kMax = ~std::uint64_t{0};
  struct Row {
    const char* header;
    std::uint64_t size, offset, length;
  };
  for (const auto& row : std::vector<Row>{
           {"bytes=0-99", 100, 0, 100},
           {"bytes=99-99", 100, 99, 1},
           {"  bytes= 10 - 19 \t", 100, 10, 10},
           {"bytes=-1", 1, 0, 1},
           // The largest values parse without overflow.
           {"bytes=0-9999999999999999999", 100, 0, 100},
           {"bytes=-9999999999999999999", 100, 0, 100},
           {"bytes=9999999999999999999-", kMax, 9999999999999999999u, kMax - 9999999999999999999u},
       }) {
    ByteRange r;
    ASSERT_EQ(parse_range(row.header, row.size, r), RangeResult::kSatisfiable) << row.header;
    EXPECT_EQ(r.offset, row.offset) << row.header;
    EXPECT_EQ(r.length, row.length) << row.header;
  }
  // A range that starts past the end is unsatisfiable even with an end given.
  ByteRange r;
  EXPECT_EQ(parse_range("bytes=100-200", 100, r), RangeResult::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=-5", 0, r), RangeResult::kUnsatisfiable);
}

// Malformed headers are ignored (200 with the whole body), never an error.
TEST(RangeTest, MalformedHeadersAreIgnored) {
  ByteRange r;
  for (const char* h : {"", "bytes", "bytes=", "bytes=-", "bytes=5", "bytes=+1-2", "bytes=1-+2", "bytes=--5",
                        "bytes=1-2-3", "bytes=0x10-20", "bytes=1 2-3", "bytes 0-1", "bytes=0-1,", "bytes=,0-1",
                        "bytes=-0-1", "bytes=\x01-2"}) {
    EXPECT_EQ(parse_range(h, 100, r), RangeResult::kNone) << h;
  }
}

}  // namespace
}  // namespace blobsync::http
