// Applying remote updates (src/crdt/doc_apply.cpp): out-of-order parts wait
// pending until their dependencies arrive, within Doc::PendingLimits.
#include <gtest/gtest.h>

#include "crdt/block.h"
#include "crdt/doc.h"
#include "crdt/text.h"
#include "crdt/work_meter.h"

using namespace blobsync::crdt;

namespace {
// n single-character inserts by one client, one update each.
std::vector<Bytes> typed_updates(int n) {
  Doc a(1);
  std::vector<Bytes> ups;
  a.on_update([&](const Bytes& u, const Transaction&) { ups.push_back(u); });
  for (int i = 0; i < n; ++i) a.get_text("t").insert_utf8(static_cast<uint32_t>(i), "x");
  return ups;
}
}  // namespace

TEST(DocApply, PendingWithinLimitResolvesWhenDependenciesArrive) {
  auto ups = typed_updates(4);
  Doc b(2);
  b.set_pending_limits({.max_structs = 3, .max_bytes = 0});
  for (int i = 3; i >= 1; --i) ASSERT_TRUE(b.apply_update(ups[static_cast<size_t>(i)])) << i;
  EXPECT_EQ(b.pending_structs(), 3u);
  ASSERT_TRUE(b.apply_update(ups[0]));
  EXPECT_FALSE(b.has_pending());
  EXPECT_EQ(b.pending_structs(), 0u);
  EXPECT_EQ(b.get_text("t").to_string(), "xxxx");
}

TEST(DocApply, PendingPastStructLimitIsRefused) {
  auto ups = typed_updates(4);
  Doc b(2);
  b.set_pending_limits({.max_structs = 2, .max_bytes = 0});
  ASSERT_TRUE(b.apply_update(ups[3]));
  ASSERT_TRUE(b.apply_update(ups[2]));
  auto r = b.apply_update(ups[1]);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, blobsync::Errc::kTooLarge);
  EXPECT_NE(r.error().message.find("over the limit"), std::string::npos) << r.error().message;
  EXPECT_EQ(b.pending_structs(), 2u);  // the refused part was dropped, not kept
  // The document stays usable: the missing updates, resent, complete it.
  ASSERT_TRUE(b.apply_update(ups[0]));
  ASSERT_TRUE(b.apply_update(ups[1]));
  EXPECT_FALSE(b.has_pending());
  EXPECT_EQ(b.get_text("t").to_string(), "xxxx");
}

TEST(DocApply, PendingPastByteLimitIsRefused) {
  Doc a(1);
  std::vector<Bytes> ups;
  a.on_update([&](const Bytes& u, const Transaction&) { ups.push_back(u); });
  a.get_text("t").insert_utf8(0, "x");
  a.get_text("t").insert_utf8(1, std::string(4000, 'y'));
  Doc b(2);
  b.set_pending_limits({.max_structs = 0, .max_bytes = 1000});
  auto r = b.apply_update(ups[1]);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, blobsync::Errc::kTooLarge);
  EXPECT_FALSE(b.has_pending());
}

TEST(DocApply, PendingDeletesPastLimitAreRefused) {
  // Deletes of 10 separate ranges of a client nobody has seen.
  DecodedUpdate u;
  for (uint64_t i = 0; i < 10; ++i) u.ds.add(77, i * 2, 1);
  Doc b(2);
  b.set_pending_limits({.max_structs = 4, .max_bytes = 0});
  auto r = b.apply_update(encode_update(u));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, blobsync::Errc::kTooLarge);
  EXPECT_EQ(b.pending_structs(), 4u);
}

// Many out-of-order updates: each message re-merges what is pending, so the
// work per message is bounded by the limit, not by the history.
TEST(DocApply, PendingWorkStaysBoundedByTheLimit) {
  auto ups = typed_updates(2001);
  Doc b(2);
  b.set_pending_limits({.max_structs = 100, .max_bytes = 0});
  work_reset();
  size_t refused = 0;
  for (size_t i = ups.size() - 1; i >= 1; --i)
    if (!b.apply_update(ups[i])) ++refused;
  EXPECT_EQ(refused, 2000u - 100u);
  EXPECT_LE(work_steps(), 2000u * 3 * 100);
  EXPECT_LE(b.pending_structs(), 100u);
}
