// plan_scan (mesh/scan_plan.h): the registry-scan rule, with fake stores,
// policies and registries; no Mesh, no room, no socket.
#include "mesh/scan_plan.h"

#include <gtest/gtest.h>

#include <set>

#include "core/sha256.h"

namespace blobsync::mesh {
namespace {

constexpr char kSelf[] = "ws://self.test/sync";
constexpr char kPeer[] = "ws://peer.test/sync";
constexpr char kStranger[] = "ws://stranger.test/sync";

Digest blob(int n) { return Sha256::of(&n, sizeof n); }

struct Fixture {
  std::set<Digest> stored;
  std::set<Digest> vanished;  // held() says yes, then stat finds nothing
  int describes = 0;
  bool replicate_all = true;

  ScanPlan plan(const std::vector<std::pair<Digest, protocol::RegistryEntry>>& entries) {
    ScanRules rules{kSelf, replicate_all, [&](const Digest& h) { return stored.contains(h); },
                    [&](const Digest& h) -> std::optional<sync::AnnouncedBlob> {
                      ++describes;
                      if (vanished.contains(h)) return std::nullopt;
                      return sync::AnnouncedBlob{h, 1000, 1};  // the store's truth
                    },
                    [](const std::vector<std::string>& holders) {
                      std::vector<std::string> out;
                      for (const auto& h : holders)
                        if (h == kPeer) out.push_back(h);  // only the configured peer
                      return out;
                    }};
    return plan_scan(entries, rules);
  }
};

protocol::RegistryEntry entry(std::vector<std::string> holders, std::uint64_t claimed_size = 5) {
  return protocol::RegistryEntry{std::move(holders), claimed_size, 1};
}

TEST(PlanScan, HeldButUnlistedIsAnnouncedWithTheStoresSizeNotTheRegistrys) {
  Fixture f;
  f.stored = {blob(1)};
  auto p = f.plan({{blob(1), entry({kPeer}, /*claimed_size=*/999999999)}});
  ASSERT_EQ(p.announce.size(), 1u);
  EXPECT_EQ(p.announce[0].hash, blob(1));
  EXPECT_EQ(p.announce[0].size, 1000u);
  EXPECT_TRUE(p.fetch.empty());
}

TEST(PlanScan, HeldAndListedNeedsNothingAndIsNotEvenStatted) {
  Fixture f;
  f.stored = {blob(1)};
  auto p = f.plan({{blob(1), entry({kPeer, kSelf})}});
  EXPECT_TRUE(p.announce.empty());
  EXPECT_TRUE(p.fetch.empty());
  EXPECT_EQ(f.describes, 0);
}

TEST(PlanScan, NotHeldIsFetchedOnlyFromAdmittedHolders) {
  Fixture f;
  auto p = f.plan({{blob(1), entry({kStranger, kPeer})}, {blob(2), entry({kStranger})}});
  ASSERT_EQ(p.fetch.size(), 1u) << "blob 2 lists only a holder the policy refuses";
  EXPECT_EQ(p.fetch[0].hash, blob(1));
  EXPECT_EQ(p.fetch[0].holders, (std::vector<std::string>{kPeer}));
  EXPECT_TRUE(p.announce.empty());
}

TEST(PlanScan, OnDemandReplicationFetchesNothingFromAScan) {
  Fixture f;
  f.replicate_all = false;
  auto p = f.plan({{blob(1), entry({kPeer})}});
  EXPECT_TRUE(p.fetch.empty());
}

TEST(PlanScan, ABlobThatVanishedBetweenTheChecksIsNotAnnounced) {
  Fixture f;
  f.stored = {blob(1)};
  f.vanished = {blob(1)};
  auto p = f.plan({{blob(1), entry({kPeer})}});
  EXPECT_TRUE(p.announce.empty());
  EXPECT_TRUE(p.fetch.empty());
}

TEST(PlanScan, AMixedRegistryIsSortedIntoBothListsInOrder) {
  Fixture f;
  f.stored = {blob(1), blob(3)};
  auto p = f.plan({{blob(1), entry({})}, {blob(2), entry({kPeer})}, {blob(3), entry({kSelf})}, {blob(4), entry({kPeer})}});
  ASSERT_EQ(p.announce.size(), 1u);
  EXPECT_EQ(p.announce[0].hash, blob(1));
  ASSERT_EQ(p.fetch.size(), 2u);
  EXPECT_EQ(p.fetch[0].hash, blob(2));
  EXPECT_EQ(p.fetch[1].hash, blob(4));
}

}  // namespace
}  // namespace blobsync::mesh
