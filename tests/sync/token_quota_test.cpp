// Room-token quotas (sync/token_quota.h): what a key may add, reservations
// of uploads against updates, usage shared by handles of one key and kept
// in meta.db across a reopen.
#include "sync/token_quota.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "sync/room_store.h"

namespace blobsync::sync {
namespace {

std::filesystem::path fresh_dir(const char* tag) {
  auto dir = std::filesystem::temp_directory_path() /
             (std::string("token_quota_test_") + tag + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(TokenQuota, UpdatesAreAddedUntilTheLimit) {
  auto dir = fresh_dir("updates");
  auto store = RoomStore::open(dir / "meta.db", false);
  ASSERT_TRUE(store) << store.error().to_string();
  TokenQuotas quotas(**store);
  auto q = quotas.open("sub:a", 100);
  EXPECT_EQ(q->try_add(60), std::nullopt);
  auto refused = q->try_add(41);
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->find("room_token_quota"), std::string::npos) << *refused;
  EXPECT_NE(refused->find("added 60 of the 100 bytes"), std::string::npos) << *refused;
  EXPECT_EQ(q->used(), 60u) << "a refused update adds nothing";
  EXPECT_EQ(q->try_add(40), std::nullopt);
  q->refund(40);
  EXPECT_EQ(q->used(), 60u);
  auto unlimited = quotas.open("sub:b", 0);
  EXPECT_EQ(unlimited->try_add(UINT64_MAX / 2), std::nullopt);
  EXPECT_EQ(quotas.open("sub:a", 100)->used(), 60u) << "handles of one key share its usage";
}

TEST(TokenQuota, UploadsReserveThenCharge) {
  auto dir = fresh_dir("uploads");
  auto store = RoomStore::open(dir / "meta.db", false);
  ASSERT_TRUE(store);
  TokenQuotas quotas(**store);
  auto q = quotas.open("jwt:x", 1000);
  auto r = q->reserve(700);
  ASSERT_TRUE(r);
  EXPECT_TRUE(q->try_add(301).has_value()) << "an update cannot take what an upload reserved";
  auto second = q->reserve(301);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().find("700 more in uploads in progress"), std::string::npos) << second.error();
  q->charge(*r);
  EXPECT_EQ(q->used(), 700u);
  {
    auto dup = q->reserve(300);
    ASSERT_TRUE(dup);
  }  // released uncharged: a blob the server already held
  EXPECT_EQ(q->used(), 700u);
  EXPECT_EQ(q->try_add(300), std::nullopt);
}

TEST(TokenQuota, UsageSurvivesAReopen) {
  auto dir = fresh_dir("reopen");
  {
    auto store = RoomStore::open(dir / "meta.db", false);
    ASSERT_TRUE(store);
    TokenQuotas quotas(**store);
    auto q = quotas.open("sub:kept", 1000);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(q->try_add(5), std::nullopt);
    auto r = q->reserve(200);
    ASSERT_TRUE(r);
    q->charge(*r);
    q.reset();
    (*store)->flush();
  }
  auto store = RoomStore::open(dir / "meta.db", false);
  ASSERT_TRUE(store);
  auto kept = (*store)->token_usage("sub:kept");
  ASSERT_TRUE(kept) << kept.error().to_string();
  EXPECT_EQ(*kept, 700u);
  auto never = (*store)->token_usage("sub:never");
  ASSERT_TRUE(never);
  EXPECT_EQ(*never, 0u);
  TokenQuotas quotas(**store);
  auto q = quotas.open("sub:kept", 1000);
  EXPECT_EQ(q->used(), 700u);
  EXPECT_TRUE(q->try_add(301).has_value());
}

}  // namespace
}  // namespace blobsync::sync
