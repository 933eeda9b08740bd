#include "protocol/blob_messages.h"

#include <gtest/gtest.h>

#include "core/sha256.h"

namespace blobsync::protocol {
namespace {

Digest h(char c) { return Sha256::of(&c, 1); }

void expect_round_trip(const BlobMessage& msg) {
  auto bytes = encode_blob_message(msg);
  ASSERT_TRUE(is_blob_frame(bytes));
  std::uint64_t req = 99;
  auto back = decode_blob_message(bytes, &req);
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_TRUE(*back == msg) << "type " << int(bytes[0]);
  EXPECT_EQ(req, std::visit([](const auto& m) { return m.req; }, msg));
  // Every strict prefix is an error, never a crash or a different message.
  for (std::size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(decode_blob_message(std::span(bytes.data(), n)).has_value()) << "prefix " << n;
}

TEST(BlobMessages, EveryTypeRoundTrips) {
  expect_round_trip(UploadMsg{1, h('a'), 300000, "image/png", "a.png", {h('0'), h('1')}});
  expect_round_trip(UploadMsg{3, h('e'), 0, "", "", {}});
  expect_round_trip(RequestMsg{5, h('b'), 16, {}});
  expect_round_trip(RequestMsg{7, h('b'), 256, {{0, 1}, {5, 1000}}});
  std::vector<std::uint8_t> data(262144, 0xab);
  expect_round_trip(ChunkMsg{9, 12345, data});
  expect_round_trip(HaveMsg{11, {h('x'), h('y'), h('z')}});
  expect_round_trip(MetaMsg{2, 262145, "video/mp4", 2, {h('0'), h('1')}});
  expect_round_trip(WantMsg{4, 8, {{1, 3}}});
  expect_round_trip(WantMsg{4, 8, {}});
  expect_round_trip(CreditMsg{6, 3});
  expect_round_trip(DoneMsg{8, h('d')});
  expect_round_trip(ErrorMsg{10, BlobErrorCode::kHashMismatch, "chunk 3 does not match its hash"});
  expect_round_trip(CancelMsg{13});
  expect_round_trip(HaveReplyMsg{15, {true, false, true, false, false, false, false, true}});
}

TEST(BlobMessages, ChunkHeaderPlusDataEqualsFullEncoding) {
  std::vector<std::uint8_t> data = {1, 2, 3, 4, 5};
  auto full = encode_blob_message(ChunkMsg{77, 3, data});
  auto header = encode_chunk_header(77, 3, data.size());
  header.insert(header.end(), data.begin(), data.end());
  EXPECT_EQ(full, header);
}

TEST(BlobMessages, RejectsHostileInput) {
  auto reject = [](std::vector<std::uint8_t> bytes, const char* why) {
    auto r = decode_blob_message(bytes);
    EXPECT_FALSE(r.has_value()) << why;
    if (!r) {
      EXPECT_EQ(r.error().code, Errc::kInvalidArgument) << why;
    }
  };
  reject({}, "empty");
  reject({0, 0, 1, 0}, "a Yjs message is not a blob message");
  reject({9}, "type below the range");
  reject({21, 1}, "type above the range");
  reject({13, 1, 0xff, 0xff, 0xff, 0xff, 0x0f}, "hash count larger than the frame");
  reject({11, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "varint overflow");
  reject({19, 7, 'x'}, "trailing bytes");
  reject({16, 1, 0}, "zero credit");
  reject({18, 1, 42, 0}, "unknown error code");
  reject({18, 1, 1, 2, 0xc3, 0x28}, "invalid UTF-8");
  reject({12, 1, 0, 0x81, 0x80, 0x10}, "chunk larger than 256 KiB");
  // UPLOAD whose chunk count does not match its size.
  auto upload = encode_blob_message(UploadMsg{1, h('a'), 10, "", "", {h('0')}});
  upload[1 + 1 + 32] = 0x80;  // size varint now continues into the next byte
  reject(upload, "size/chunk count mismatch");
}

TEST(BlobMessages, ErrorRepliesKnowTheRequestId) {
  auto bytes = encode_blob_message(RequestMsg{41, h('q'), 16, {}});
  bytes.push_back(0);  // trailing garbage
  std::uint64_t req = 0;
  EXPECT_FALSE(decode_blob_message(bytes, &req).has_value());
  EXPECT_EQ(req, 41u);
}

TEST(BlobMessages, CheckRanges) {
  EXPECT_EQ(check_ranges({}, 10).value(), 0u);
  EXPECT_EQ(check_ranges({{0, 10}}, 10).value(), 10u);
  EXPECT_EQ(check_ranges({{0, 2}, {5, 5}}, 10).value(), 7u);
  EXPECT_FALSE(check_ranges({{0, 11}}, 10).has_value());
  EXPECT_FALSE(check_ranges({{10, 1}}, 10).has_value());
  EXPECT_FALSE(check_ranges({{5, 1}, {2, 1}}, 10).has_value());
  EXPECT_FALSE(check_ranges({{0, 3}, {2, 1}}, 10).has_value());
  EXPECT_FALSE(check_ranges({{0, 0}}, 10).has_value());
  EXPECT_FALSE(check_ranges({{1, UINT64_MAX}}, 10).has_value());
}

}  // namespace
}  // namespace blobsync::protocol
