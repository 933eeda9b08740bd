// The flow-control rules both ends of a blob-channel transfer share
// (protocol/flow_control.h), without a server, a client or a socket.
#include "protocol/flow_control.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/chunking.h"

namespace blobsync::protocol {
namespace {

std::vector<std::uint64_t> send_all_sendable(ChunkSender& s) {
  std::vector<std::uint64_t> out;
  while (s.sendable() > 0) {
    out.push_back(s.next());
    s.mark_sent();
  }
  return out;
}

TEST(ChunkSenderTest, WalksTheRangesInOrderWithinTheWindow) {
  ChunkSender s({{2, 3}, {10, 2}}, 3);
  EXPECT_EQ(s.total(), 5u);
  EXPECT_EQ(send_all_sendable(s), (std::vector<std::uint64_t>{2, 3, 4}));
  EXPECT_EQ(s.sendable(), 0u) << "three outstanding fill a window of three";
  s.on_credit(1);
  EXPECT_EQ(send_all_sendable(s), (std::vector<std::uint64_t>{10}));
  s.on_credit(2);
  EXPECT_EQ(send_all_sendable(s), (std::vector<std::uint64_t>{11}));
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(s.sendable(), 0u);
}

TEST(ChunkSenderTest, CreditBeyondWhatIsOutstandingCannotWidenTheWindow) {
  ChunkSender s({{0, 100}}, 4);
  s.on_credit(1000);  // before anything was sent: worth nothing
  EXPECT_EQ(send_all_sendable(s).size(), 4u);
  s.on_credit(1000);  // frees the four outstanding, no more
  EXPECT_EQ(send_all_sendable(s).size(), 4u);
  EXPECT_EQ(s.sent(), 8u);
}

TEST(ChunkSenderTest, ARunStopsAtTheEndOfItsRange) {
  ChunkSender s({{0, 2}, {5, 4}}, 8);
  EXPECT_EQ(s.sendable(), 6u);
  EXPECT_EQ(s.sendable_run(), 2u);
  s.mark_sent();
  s.mark_sent();
  EXPECT_EQ(s.next(), 5u);
  EXPECT_EQ(s.sendable_run(), 4u);
}

TEST(ChunkSenderTest, NothingWantedIsFinishedAtOnce) {
  ChunkSender s({}, 16);
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(s.sendable(), 0u);
}

TEST(ChunkReceiverTest, RefusesTheChunkPastTheWindow) {
  ChunkReceiver r(2);
  ASSERT_TRUE(r.admit());
  ASSERT_TRUE(r.admit());
  auto over = r.admit();
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, Errc::kInvalidArgument);
  r.release(1);
  EXPECT_TRUE(r.admit()) << "released credit makes room again";
}

TEST(ChunkReceiverTest, CreditGoesBackInQuarterWindowBatches) {
  ChunkReceiver r(16);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(r.admit());
    EXPECT_EQ(r.batch_due(), 0u);
  }
  ASSERT_TRUE(r.admit());
  EXPECT_EQ(r.batch_due(), 4u);
  r.release(r.batch_due());
  EXPECT_EQ(r.held(), 0u);
  r.release(5);  // more than held: all of it, never below zero
  EXPECT_EQ(r.held(), 0u);
  ChunkReceiver tiny(1);
  ASSERT_TRUE(tiny.admit());
  EXPECT_EQ(tiny.batch_due(), 1u) << "a window under four still credits every chunk";
}

TEST(ChunkSenderTest, ASenderAndAReceiverWithTheSameWindowNeverOverrun) {
  // Both ends in lock step: the receiver returns credit in batches, the
  // sender sends whatever it may; the receiver never refuses a chunk.
  ChunkSender s({{0, 1000}}, 16);
  ChunkReceiver r(16);
  std::uint64_t received = 0;
  while (!s.finished()) {
    auto sent = send_all_sendable(s);
    ASSERT_FALSE(sent.empty()) << "stalled at " << received;
    for (auto index : sent) {
      ASSERT_EQ(index, received);
      ASSERT_TRUE(r.admit());
      ++received;
      if (auto due = r.batch_due()) {
        r.release(due);
        s.on_credit(due);
      }
    }
  }
  EXPECT_EQ(received, 1000u);
}

TEST(CheckChunkTest, IndexAndLengthMustMatchTheBlob) {
  std::vector<std::uint8_t> full(kChunkSize), tail(100);
  std::uint64_t size = kChunkSize + 100;
  EXPECT_TRUE(check_chunk(ChunkMsg{1, 0, full}, size));
  EXPECT_TRUE(check_chunk(ChunkMsg{1, 1, tail}, size));
  EXPECT_FALSE(check_chunk(ChunkMsg{1, 1, full}, size)) << "the last chunk is short";
  EXPECT_FALSE(check_chunk(ChunkMsg{1, 0, tail}, size));
  EXPECT_FALSE(check_chunk(ChunkMsg{1, 2, tail}, size)) << "only two chunks";
  EXPECT_FALSE(check_chunk(ChunkMsg{1, 0, {}}, 0)) << "the empty blob has no chunks";
}

TEST(NegotiateWindowTest, TheSmallerWindowWinsWithinOneToTheMaximum) {
  EXPECT_EQ(negotiate_window(8, 16), 8u);
  EXPECT_EQ(negotiate_window(64, 16), 16u);
  EXPECT_EQ(negotiate_window(0, 16), 1u);
  EXPECT_EQ(negotiate_window(100000, 100000), kMaxWindow);
  EXPECT_TRUE(is_client_request_id(1));
  EXPECT_FALSE(is_client_request_id(2));
}

}  // namespace
}  // namespace blobsync::protocol
