#include "protocol/awareness.h"

#include <gtest/gtest.h>

#include "crdt/lib0.h"

namespace blobsync::protocol {
namespace {

std::vector<std::uint8_t> update(std::initializer_list<std::tuple<std::uint64_t, std::uint64_t, const char*>> entries) {
  crdt::Encoder e;
  e.write_var_uint(entries.size());
  for (auto& [client, clock, json] : entries) {
    e.write_var_uint(client);
    e.write_var_uint(clock);
    e.write_var_string(json);
  }
  return e.take();
}

TEST(Awareness, AddUpdateRemoveFollowTheClockRules) {
  Awareness a;
  auto c1 = a.apply_update(update({{7, 1, R"({"user":"ann"})"}}), 0);
  ASSERT_TRUE(c1);
  EXPECT_EQ(c1->added, std::vector<std::uint64_t>{7});
  // Same clock, non-null: ignored (stale).
  auto c2 = a.apply_update(update({{7, 1, R"({"user":"bob"})"}}), 0);
  ASSERT_TRUE(c2);
  EXPECT_TRUE(c2->empty());
  EXPECT_EQ(*a.state_of(7), R"({"user":"ann"})");
  // Higher clock: update.
  auto c3 = a.apply_update(update({{7, 2, R"({"user":"bob"})"}}), 0);
  ASSERT_TRUE(c3);
  EXPECT_EQ(c3->updated, std::vector<std::uint64_t>{7});
  // Same clock null for a known state: removal is accepted.
  auto c4 = a.apply_update(update({{7, 2, "null"}}), 0);
  ASSERT_TRUE(c4);
  EXPECT_EQ(c4->removed, std::vector<std::uint64_t>{7});
  EXPECT_FALSE(a.has_states());
}

TEST(Awareness, RemoveBumpsTheClockAndEncodesNull) {
  Awareness a;
  ASSERT_TRUE(a.apply_update(update({{1, 5, "{}"}, {2, 3, R"({"x":1})"}}), 0));
  auto change = a.remove({1, 99}, 10);
  EXPECT_EQ(change.removed, std::vector<std::uint64_t>{1});
  auto bytes = a.encode_update({1});
  crdt::Decoder d(bytes);
  EXPECT_EQ(d.read_var_uint(), 1u);
  EXPECT_EQ(d.read_var_uint(), 1u);
  EXPECT_EQ(d.read_var_uint(), 6u);  // clock 5 + 1
  EXPECT_EQ(d.read_var_string(), "null");
  // A peer applying that removal drops the state.
  Awareness peer;
  ASSERT_TRUE(peer.apply_update(update({{1, 5, "{}"}}), 0));
  ASSERT_TRUE(peer.apply_update(bytes, 0));
  EXPECT_EQ(peer.state_count(), 0u);
}

TEST(Awareness, ExpiresStatesNotRenewed) {
  Awareness a;
  ASSERT_TRUE(a.apply_update(update({{1, 1, "{}"}}), 0));
  ASSERT_TRUE(a.apply_update(update({{2, 1, "{}"}}), 20000));
  auto change = a.expire(30000);
  EXPECT_EQ(change.removed, std::vector<std::uint64_t>{1});
  EXPECT_EQ(a.state_count(), 1u);
}

TEST(Awareness, RejectsMalformedUpdatesWithoutApplyingAnything) {
  Awareness a;
  EXPECT_FALSE(a.apply_update(update({{1, 1, "{}"}, {2, 1, "{not json"}}), 0));
  EXPECT_EQ(a.state_count(), 0u);
  std::vector<std::uint8_t> truncated = update({{1, 1, "{}"}});
  truncated.pop_back();
  EXPECT_FALSE(a.apply_update(truncated, 0));
  EXPECT_FALSE(a.apply_update(std::vector<std::uint8_t>{0xff, 0xff, 0xff, 0xff, 0x0f}, 0));
  EXPECT_EQ(a.state_count(), 0u);
}

TEST(Awareness, EncodeAllListsLiveStates) {
  Awareness a;
  ASSERT_TRUE(a.apply_update(update({{3, 1, R"({"a":1})"}, {4, 1, R"({"b":2})"}}), 0));
  Awareness copy;
  auto change = copy.apply_update(a.encode_all(), 0);
  ASSERT_TRUE(change);
  EXPECT_EQ(change->added.size(), 2u);
  EXPECT_EQ(*copy.state_of(4), R"({"b":2})");
}

}  // namespace
}  // namespace blobsync::protocol
