#include "protocol/registry.h"

#include <gtest/gtest.h>

#include <set>

#include "core/blob_id.h"
#include "core/sha256.h"
#include "crdt/doc.h"
#include "crdt/map.h"

namespace blobsync::protocol {
namespace {

Digest h(char c) { return Sha256::of(&c, 1); }

// Exchanges full state both ways, as two synced servers eventually do.
void sync(crdt::Doc& a, crdt::Doc& b) {
  auto ua = a.encode_state_as_update();
  auto ub = b.encode_state_as_update();
  ASSERT_TRUE(b.apply_update(ua));
  ASSERT_TRUE(a.apply_update(ub));
}

TEST(Registry, AnnounceAndWithdraw) {
  crdt::Doc doc(1);
  EXPECT_FALSE(registry_get(doc, h('a')));
  EXPECT_TRUE(registry_announce(doc, h('a'), 300000, 2, "ws://a/sync"));
  EXPECT_FALSE(registry_announce(doc, h('a'), 300000, 2, "ws://a/sync"));  // idempotent
  EXPECT_TRUE(registry_announce(doc, h('a'), 300000, 2, "ws://b/sync"));
  auto e = registry_get(doc, h('a'));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->holders, (std::vector<std::string>{"ws://a/sync", "ws://b/sync"}));
  EXPECT_EQ(e->size, 300000u);
  EXPECT_EQ(e->chunk_count, 2u);
  EXPECT_TRUE(registry_withdraw(doc, h('a'), "ws://a/sync"));
  EXPECT_EQ(registry_get(doc, h('a'))->holders, std::vector<std::string>{"ws://b/sync"});
  EXPECT_TRUE(registry_withdraw(doc, h('a'), "ws://b/sync"));
  // Last holder gone: the key stays (only apps delete keys), with no holders.
  ASSERT_TRUE(registry_get(doc, h('a')));
  EXPECT_TRUE(registry_get(doc, h('a'))->holders.empty());
  EXPECT_TRUE(registry_has_key(doc, h('a')));
  EXPECT_FALSE(registry_withdraw(doc, h('a'), "ws://b/sync"));
}

TEST(Registry, JsonShapeMatchesTheSeed) {
  crdt::Doc doc(1);
  registry_announce(doc, h('a'), 5, 1, "ws://a/sync");
  std::string json = doc.to_json();
  EXPECT_NE(json.find(R"({"holders":["ws://a/sync"],"size":5,"chunkCount":1})"), std::string::npos) << json;
}

TEST(Registry, ConcurrentAnnouncesLoseAHolderAndReconcileRepairsIt) {
  crdt::Doc a(100), b(200);
  // Both servers store the same blob at the same time, without having synced.
  registry_announce(a, h('x'), 10, 1, "ws://a/sync");
  registry_announce(b, h('x'), 10, 1, "ws://b/sync");
  sync(a, b);
  // Last-writer-wins: exactly one holder survived (the flaw of the seed design).
  auto merged = registry_get(a, h('x'));
  ASSERT_TRUE(merged);
  EXPECT_EQ(merged->holders.size(), 1u);
  EXPECT_EQ(registry_get(a, h('x')), registry_get(b, h('x')));
  // Each server re-checks its own entries after the remote change.
  auto holds = [](const Digest&) { return true; };
  auto verified = [](const Digest& d) -> std::optional<HeldBlob> { return HeldBlob{d, 10, 1}; };
  std::size_t fixed = registry_reconcile(a, "ws://a/sync", holds, verified) +
                      registry_reconcile(b, "ws://b/sync", holds, verified);
  EXPECT_EQ(fixed, 1u);  // only the loser had to re-add itself
  sync(a, b);
  for (int round = 0; round < 4; ++round) {
    registry_reconcile(a, "ws://a/sync", holds, verified);
    registry_reconcile(b, "ws://b/sync", holds, verified);
    sync(a, b);
  }
  auto e = registry_get(a, h('x'));
  ASSERT_TRUE(e);
  std::set<std::string> holders(e->holders.begin(), e->holders.end());
  EXPECT_EQ(holders, (std::set<std::string>{"ws://a/sync", "ws://b/sync"}));
  EXPECT_EQ(registry_get(b, h('x')), e);
}

TEST(Registry, ReconcileRemovesSelfWhereBlobIsGoneAndRecreatesVanishedKeys) {
  crdt::Doc doc(1);
  registry_announce(doc, h('a'), 1, 1, "ws://me/sync");
  registry_announce(doc, h('b'), 1, 1, "ws://me/sync");
  registry_announce(doc, h('b'), 1, 1, "ws://other/sync");
  auto holds = [&](const Digest& d) { return d == h('c'); };  // we only hold c now
  std::vector<HeldBlob> ours = {{h('c'), 7, 1}};
  auto verified = [](const Digest& d) -> std::optional<HeldBlob> { return HeldBlob{d, 7, 1}; };
  EXPECT_EQ(registry_reconcile(doc, "ws://me/sync", holds, verified, ours), 3u);
  EXPECT_TRUE(registry_get(doc, h('a'))->holders.empty());  // the key stays: only apps delete keys
  EXPECT_EQ(registry_get(doc, h('b'))->holders, std::vector<std::string>{"ws://other/sync"});
  EXPECT_EQ(registry_get(doc, h('c'))->holders, std::vector<std::string>{"ws://me/sync"});
  EXPECT_EQ(registry_reconcile(doc, "ws://me/sync", holds, verified, ours), 0u);  // a fixed point
}

// A client may write any size into an entry; a server re-adding itself
// publishes its store's numbers, not the claim.
TEST(Registry, ReconcileReAddsWithTheStoresSizeNotTheEntrys) {
  crdt::Doc doc(1);
  registry_announce(doc, h('a'), 1, 1, "ws://other/sync");  // a lie: the blob is 600000 bytes
  auto holds = [](const Digest&) { return true; };
  auto verified = [](const Digest& d) -> std::optional<HeldBlob> { return HeldBlob{d, 600000, 3}; };
  EXPECT_EQ(registry_reconcile(doc, "ws://me/sync", holds, verified), 1u);
  auto e = registry_get(doc, h('a'));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->size, 600000u);
  EXPECT_EQ(e->chunk_count, 3u);
  // No verified record (a store error): no re-add with the claimed numbers.
  crdt::Doc other(2);
  registry_announce(other, h('b'), 1, 1, "ws://other/sync");
  auto unknown = [](const Digest&) -> std::optional<HeldBlob> { return std::nullopt; };
  EXPECT_EQ(registry_reconcile(other, "ws://me/sync", holds, unknown), 0u);
  EXPECT_EQ(registry_get(other, h('b'))->holders, std::vector<std::string>{"ws://other/sync"});
}

TEST(Registry, MalformedEntriesAreIgnored) {
  crdt::Doc doc(1);
  auto map = doc.get_map(kRegistryMap);
  doc.transact([&](crdt::Transaction&) {
    map.set("sha256:nothex", crdt::Prelim(crdt::Any("x")));
    map.set(to_hash_ref(h('q')), crdt::Prelim(crdt::Any("not an object")));
  });
  EXPECT_TRUE(registry_entries(doc).empty());
  EXPECT_FALSE(registry_get(doc, h('q')));
}

}  // namespace
}  // namespace blobsync::protocol
