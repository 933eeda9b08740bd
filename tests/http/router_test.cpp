// Router (src/http/router.cpp): exact XRPC paths, the /blobs/ prefix, HEAD
// as GET, and the error each miss is answered with.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>

#include "http/router.h"

namespace blobsync::http {
namespace {

Route named(std::string name) {
  Route r;
  r.name = std::move(name);
  r.handler = [](Request&) { return Response{}; };
  return r;
}

std::string error_name(const Response& r) { return std::string(boost::json::parse(r.body).at("error").as_string()); }

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add("GET", "/xrpc/com.atproto.sync.getBlob", named("getBlob"));
    router_.add("POST", "/xrpc/com.atproto.repo.uploadBlob", named("uploadBlob"));
    router_.add_prefix("GET", "/blobs/", named("blobs.get"));
    router_.add_prefix("PUT", "/blobs/", named("blobs.put"));
  }
  const Route* match(std::string_view method, std::string_view path) { return router_.match(method, path, fallback_); }
  Router router_;
  Response fallback_;
};

TEST_F(RouterTest, ExactAndPrefixMatches) {
  auto* r = match("GET", "/xrpc/com.atproto.sync.getBlob");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "getBlob");
  r = match("POST", "/xrpc/com.atproto.repo.uploadBlob");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "uploadBlob");
  r = match("GET", "/blobs/sha256:abc");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "blobs.get");
  r = match("PUT", "/blobs/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "blobs.put");
}

TEST_F(RouterTest, HeadIsRoutedToGet) {
  auto* r = match("HEAD", "/xrpc/com.atproto.sync.getBlob");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "getBlob");
  r = match("HEAD", "/blobs/x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "blobs.get");
  EXPECT_FALSE(match("HEAD", "/xrpc/com.atproto.repo.uploadBlob"));  // POST only
}

// Exact paths are exact: no prefix, suffix or case variation matches.
TEST_F(RouterTest, ExactPathsAreExact) {
  for (const char* p : {"/xrpc/com.atproto.sync.getBlob/", "/xrpc/com.atproto.sync.getBlobs",
                        "/xrpc/com.atproto.sync.getblob", "/xrpc/com.atproto.sync", "/blobs"}) {
    EXPECT_FALSE(match("GET", p)) << p;
  }
  EXPECT_FALSE(match("get", "/xrpc/com.atproto.sync.getBlob"));  // methods are case-sensitive
}

TEST_F(RouterTest, XrpcMisses) {
  EXPECT_FALSE(match("POST", "/xrpc/com.atproto.sync.getBlob"));
  EXPECT_EQ(fallback_.status, 400);
  EXPECT_EQ(error_name(fallback_), "InvalidRequest");
  EXPECT_NE(fallback_.body.find("Incorrect HTTP method (POST)"), std::string::npos) << fallback_.body;
  EXPECT_FALSE(match("GET", "/xrpc/com.example.nothing"));
  EXPECT_EQ(fallback_.status, 501);
  EXPECT_EQ(error_name(fallback_), "MethodNotImplemented");
}

TEST_F(RouterTest, OtherMisses) {
  EXPECT_FALSE(match("DELETE", "/blobs/sha256:abc"));
  EXPECT_EQ(fallback_.status, 405);
  EXPECT_EQ(error_name(fallback_), "MethodNotAllowed");
  EXPECT_FALSE(match("GET", "/nowhere"));
  EXPECT_EQ(fallback_.status, 404);
  EXPECT_EQ(error_name(fallback_), "NotFound");
  EXPECT_FALSE(match("GET", ""));
  EXPECT_EQ(fallback_.status, 404);
}

TEST(Router, EmptyRouterMatchesNothing) {
  Router r;
  Response fallback;
  EXPECT_FALSE(r.match("GET", "/", fallback));
  EXPECT_EQ(fallback.status, 404);
}

// /blobs/<id>/image: a prefix and a suffix, registered before the plain
// /blobs/ prefix so it wins; anything else under /blobs/ still goes there.
TEST(RouterPattern, PrefixAndSuffix) {
  Router router;
  router.add_pattern("GET", "/blobs/", "/image", named("blobs.image"));
  router.add_prefix("GET", "/blobs/", named("blobs.get"));
  Response fallback;
  auto* r = router.match("GET", "/blobs/abc/image", fallback);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "blobs.image");
  r = router.match("HEAD", "/blobs/abc/image", fallback);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "blobs.image");
  for (std::string_view path : {"/blobs/abc", "/blobs//image", "/blobs/image", "/blobs/abc/image/x"}) {
    r = router.match("GET", path, fallback);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->name, "blobs.get") << path;
  }
}

}  // namespace
}  // namespace blobsync::http
