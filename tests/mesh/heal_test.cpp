// The heal plan (src/mesh/heal.cpp): whom a server asks for a blob it lost.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mesh/heal.h"

namespace blobsync::mesh {
namespace {

using namespace std::chrono_literals;

TEST(HealPlan, AsksListedPeersOnlyAndWithdrawsWhereOthersHoldIt) {
  const std::string self = "ws://me/sync", p1 = "ws://p1/sync", p2 = "ws://p2/sync", stranger = "ws://evil/sync";
  std::vector<std::string> peers = {p1, p2};
  RoomEntries entries = {
      {"lonely", {{self}, 10, 1}},                 // only us: stay listed, nobody else to ask
      {"strange", {{self, stranger}, 10, 1}},      // another holder, not a peer: withdraw, never dial it
      {"album", {{self, p2, stranger}, 700, 3}},  // a peer holds it: ask it, fetch in this room
  };
  auto plan = plan_heal(entries, self, peers);
  EXPECT_EQ(plan.holders, std::vector<std::string>{p2});
  ASSERT_TRUE(plan.room);
  EXPECT_EQ(*plan.room, "album");
  EXPECT_EQ(plan.withdraw_from, (std::vector<std::string>{"strange", "album"}));

  // No peer listed anywhere (e.g. the blob came in over HTTP): ask every peer, in no particular room.
  auto blind = plan_heal({{"lonely", {{self}, 10, 1}}}, self, peers);
  EXPECT_EQ(blind.holders, peers);
  EXPECT_FALSE(blind.room);
  EXPECT_TRUE(blind.withdraw_from.empty());
  EXPECT_TRUE(plan_heal({}, self, {}).holders.empty());
}

}  // namespace
}  // namespace blobsync::mesh
