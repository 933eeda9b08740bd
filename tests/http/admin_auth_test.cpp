#include "http/admin_auth.h"

#include <gtest/gtest.h>

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

// DNS rebinding: a page on evil.example, its name re-pointed at 127.0.0.1,
// fetches /metrics same-origin: loopback peer, no Origin, Host evil.example.
TEST(AdminAuth, LoopbackIsOpenOnlyToRequestsAddressedByIpOrLocalhost) {
  const std::string token = "admin-token-0123456789";
  auto with_host = [](std::string host) {
    Request r = from("127.0.0.1:1");
    r.headers.emplace_back("host", std::move(host));
    return r;
  };
  for (const char* h : {"127.0.0.1:3913", "127.0.0.1", "localhost:3913", "LOCALHOST", "[::1]:3913"})
    EXPECT_FALSE(refuse_admin(with_host(h), token, true)) << h;
  for (const char* h : {"evil.example:3913", "evil.example", "localhost.evil.example:3913", "127.0.0.1.nip.io", ""}) {
    auto refused = refuse_admin(with_host(h), token, true);
    ASSERT_TRUE(refused) << h;
    EXPECT_EQ(refused->status, 401) << h;
  }
  auto r = with_host("evil.example:3913");
  r.headers.emplace_back("authorization", "Bearer " + token);
  EXPECT_FALSE(refuse_admin(r, token, true)) << "the admin token still opens it";
}

}  // namespace
}  // namespace blobsync::http
