// HolderHealth and the holder-pruning rule (src/mesh/holder_health.cpp).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/sha256.h"
#include "mesh/holder_health.h"
#include "protocol/registry.h"

namespace blobsync::mesh {
namespace {

using namespace std::chrono_literals;

Digest digest_of(std::string_view s) { return Sha256::of(s.data(), s.size()); }

TEST(HolderHealth, DownSinceKeepsTheStartOfARun) {
  HolderHealth h;
  auto t0 = Clock::now();
  EXPECT_FALSE(h.down_since("a"));
  h.unreachable("a", t0);
  h.unreachable("a", t0 + 5s);
  EXPECT_EQ(h.down_since("a"), t0);
  h.reachable("a");
  EXPECT_FALSE(h.down_since("a"));
  h.unreachable("a", t0 + 9s);
  EXPECT_EQ(h.down_since("a"), t0 + 9s);
}

TEST(PrunePlan, OnlyLongDeadHoldersOfBlobsWeHoldAndAreListedFor) {
  const std::string self = "ws://me/sync", dead = "ws://dead/sync", alive = "ws://alive/sync", brief = "ws://brief/sync";
  auto now = Clock::now();
  HolderHealth h;
  h.unreachable(dead, now - 2h);
  h.unreachable(brief, now - 1min);
  auto x = digest_of("x"), y = digest_of("y"), z = digest_of("z");
  std::vector<std::pair<Digest, protocol::RegistryEntry>> entries = {
      {x, {{self, dead, alive, brief}, 10, 1}},  // held, listed: prune dead only
      {y, {{dead, alive}, 10, 1}},               // not listed: leave alone
      {z, {{self, dead}, 10, 1}},                // listed but not held: leave alone
  };
  auto holds = [&](const Digest& d) { return d == x || d == y; };
  auto plan = plan_prunes(entries, self, holds, h, now, 1h);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0], (PruneAction{x, dead}));
  EXPECT_TRUE(plan_prunes(entries, self, holds, h, now, 3h).empty());  // not dead long enough
  EXPECT_TRUE(plan_prunes(entries, self, holds, h, now, 0ms).empty());  // disabled
  // A holder this server never dials has no health of its own: never pruned,
  // whatever its string's health says; an admitted one is looked up by its dial URL.
  h.unreachable("ws://dead:80/sync", now - 2h);
  auto key = [&](const std::string& holder) -> std::optional<std::string> {
    if (holder == dead) return std::nullopt;
    if (holder == alive) return std::string("ws://dead:80/sync");
    return holder;
  };
  plan = plan_prunes(entries, self, holds, h, now, 1h, key);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0], (PruneAction{x, alive}));
}

// down() lists every server in a current run of failures, with its start;
// servers are independent of each other.
TEST(HolderHealth, DownListsOnlyCurrentRuns) {
  HolderHealth h;
  auto t0 = Clock::now();
  EXPECT_TRUE(h.down().empty());
  h.reachable("never-tried");  // a success for an unknown server is no entry
  EXPECT_TRUE(h.down().empty());
  h.unreachable("a", t0);
  h.unreachable("b", t0 + 1s);
  h.reachable("a");
  auto down = h.down();
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0].first, "b");
  EXPECT_EQ(down[0].second, t0 + 1s);
  EXPECT_FALSE(h.down_since("a"));
}

// A holder is pruned only once it has been down for prune_after or longer,
// and each dead holder of an entry gets its own action.
TEST(PrunePlan, ExactlyPruneAfterIsOldEnoughAndEveryDeadHolderIsListed) {
  const std::string self = "ws://me/sync";
  auto now = Clock::now();
  HolderHealth h;
  h.unreachable("ws://d1/sync", now - 1h);
  h.unreachable("ws://d2/sync", now - 1h + 1ms);
  auto x = digest_of("x");
  std::vector<std::pair<Digest, protocol::RegistryEntry>> entries = {{x, {{"ws://d1/sync", self, "ws://d2/sync"}, 1, 1}}};
  auto holds = [](const Digest&) { return true; };
  auto plan = plan_prunes(entries, self, holds, h, now, 1h);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0], (PruneAction{x, "ws://d1/sync"}));
  plan = plan_prunes(entries, self, holds, h, now + 1s, 1h);
  EXPECT_EQ(plan, (std::vector<PruneAction>{{x, "ws://d1/sync"}, {x, "ws://d2/sync"}}));
  EXPECT_TRUE(plan_prunes(entries, self, holds, h, now, -1ms).empty());  // negative: disabled too
  EXPECT_TRUE(plan_prunes({}, self, holds, h, now, 1h).empty());
}

}  // namespace
}  // namespace blobsync::mesh
