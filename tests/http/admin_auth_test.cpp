#include "http/admin_auth.h"

#include <gtest/gtest.h>

#include "core/secret_compare.h"

namespace blobsync::http {
namespace {

TEST(AdminAuth, Loopback) {
  for (const char* r : {"127.0.0.1:5000", "127.1.2.3:1", "[::1]:5000", "[::ffff:127.0.0.1]:80"})
    EXPECT_TRUE(is_loopback(r)) << r;
  for (const char* r : {"10.0.0.1:5000", "0.0.0.0:0", "[::2]:1", "[::ffff:10.0.0.1]:80", "[fe80::1]:1", "", "[::1",
                        "localhost:80", "128.0.0.1:1"})
    EXPECT_FALSE(is_loopback(r)) << r;
}

Request from(std::string remote, std::string authorization = "") {
  Request r;
  r.remote = std::move(remote);
  if (!authorization.empty()) r.headers.emplace_back("authorization", std::move(authorization));
  return r;
}

TEST(AdminAuth, RefuseAdmin) {
  const std::string token = "admin-token-0123456789";
  EXPECT_FALSE(refuse_admin(from("127.0.0.1:1"), token, true));
  EXPECT_FALSE(refuse_admin(from("127.0.0.1:1"), "", true));
  EXPECT_EQ(refuse_admin(from("127.0.0.1:1"), token, false)->status, 401);  // loopback not trusted
  EXPECT_FALSE(refuse_admin(from("127.0.0.1:1", "Bearer " + token), token, false));
  EXPECT_FALSE(refuse_admin(from("10.1.1.1:1", "Bearer " + token), token, true));
  EXPECT_FALSE(refuse_admin(from("10.1.1.1:1", "bearer  " + token + " "), token, true));
  EXPECT_EQ(refuse_admin(from("10.1.1.1:1"), token, true)->status, 401);
  EXPECT_EQ(refuse_admin(from("10.1.1.1:1", "Bearer " + token + "x"), token, true)->status, 401);
  EXPECT_EQ(refuse_admin(from("10.1.1.1:1", "Basic " + token), token, true)->status, 401);
  EXPECT_EQ(refuse_admin(from("10.1.1.1:1", "Bearer "), "", true)->status, 403);  // no admin_token: loopback only
  EXPECT_FALSE(has_admin_token(from("10.1.1.1:1", "Bearer "), ""));
}

TEST(SecretCompare, EqualAndBearer) {
  EXPECT_TRUE(secrets_equal("abc", "abc"));
  EXPECT_TRUE(secrets_equal("", ""));
  EXPECT_FALSE(secrets_equal("abc", "abd"));
  EXPECT_FALSE(secrets_equal("abc", "abcd"));
  EXPECT_FALSE(secrets_equal("", "a"));
  EXPECT_EQ(bearer_token("Bearer x"), "x");
  EXPECT_EQ(bearer_token("  BEARER   x  "), "x");
  EXPECT_EQ(bearer_token("Bearerx"), "");
  EXPECT_EQ(bearer_token("Basic x"), "");
  EXPECT_EQ(bearer_token("Bearer "), "");
}

}  // namespace
}  // namespace blobsync::http
