// AccountStore (src/http/account_store.cpp): handle syntax. Accounts,
// sessions and passwords are exercised through the real server
// (http.integration, interop.atproto_api).
#include <gtest/gtest.h>

#include <string>

#include "http/account_store.h"

namespace blobsync::http {
namespace {

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
