#include <gtest/gtest.h>

#include "http/account_store.h"
#include "http/tid.h"

namespace blobsync::http {
namespace {

TEST(TidTest, IncreasingAndValid) {
  std::string prev = next_tid();
  EXPECT_TRUE(is_valid_tid(prev));
  for (int i = 0; i < 1000; ++i) {
    std::string t = next_tid();
    EXPECT_TRUE(is_valid_tid(t)) << t;
    EXPECT_GT(t, prev);
    prev = t;
  }
  EXPECT_EQ(encode_tid(0), "2222222222222");
  EXPECT_FALSE(is_valid_tid("222222222222"));
  EXPECT_FALSE(is_valid_tid("z222222222222"));
}

TEST(HandleTest, Syntax) {
  EXPECT_TRUE(AccountStore::valid_handle("alice.test"));
  EXPECT_TRUE(AccountStore::valid_handle("a-b.example.com"));
  EXPECT_FALSE(AccountStore::valid_handle("alice"));
  EXPECT_FALSE(AccountStore::valid_handle("-a.test"));
  EXPECT_FALSE(AccountStore::valid_handle("a..test"));
  EXPECT_FALSE(AccountStore::valid_handle("a.1test"));
  EXPECT_FALSE(AccountStore::valid_handle("../etc"));
  EXPECT_FALSE(AccountStore::valid_handle(std::string(300, 'a') + ".test"));
}

}  // namespace
}  // namespace blobsync::http
