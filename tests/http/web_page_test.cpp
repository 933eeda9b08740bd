// The page's routes (src/http/web_page.cpp) over the embedded assets
// (web_assets.cpp, generated from web/): every asset is served at its path
// with its type, the page's CSP, nosniff and its ETag; If-None-Match gives
// 304; unknown names under /app/ are 404. The page in a browser:
// tests/browser (browser.page, browser.mesh).
#include <gtest/gtest.h>

#include <string>

#include "http/router.h"
#include "http/web_assets.h"
#include "http/web_page.h"

namespace blobsync::http {
namespace {

Response get(const Router& router, const std::string& path, const std::string& if_none_match = "") {
  Request req;
  req.method = "GET";
  req.path = path;
  req.target = path;
  if (!if_none_match.empty()) req.headers.emplace_back("if-none-match", if_none_match);
  Response fallback;
  const Route* route = router.match("GET", path, fallback);
  if (!route) return fallback;
  return route->handler(req);
}

class WebPageTest : public ::testing::Test {
 protected:
  void SetUp() override { register_web_routes(router_); }
  Router router_;
};

TEST_F(WebPageTest, EveryAssetIsServedWithItsHeaders) {
  ASSERT_GE(kWebAssetCount, 5u);  // index.html, app.js, room.js, style.css, the bundle...
  bool has_page = false, has_bundle = false;
  for (std::size_t i = 0; i < kWebAssetCount; ++i) {
    const WebAsset& a = kWebAssets[i];
    has_page |= std::string(a.path) == "/";
    has_bundle |= std::string(a.path) == "/app/blobsync-client.js";
    Response r = get(router_, a.path);
    EXPECT_EQ(r.status, 200) << a.path;
    EXPECT_EQ(r.body, std::string(reinterpret_cast<const char*>(a.data), a.size)) << a.path;
    EXPECT_EQ(r.header("content-type"), a.content_type);
    EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
    EXPECT_EQ(r.header("content-security-policy"), kPageCsp);
    EXPECT_EQ(r.header("etag"), a.etag);
    EXPECT_EQ(r.header("cache-control"), "no-cache");
    Response again = get(router_, a.path, a.etag);
    EXPECT_EQ(again.status, 304) << a.path;
    EXPECT_TRUE(again.body.empty());
    EXPECT_EQ(get(router_, a.path, "\"other\"").status, 200);
  }
  EXPECT_TRUE(has_page);
  EXPECT_TRUE(has_bundle);
  EXPECT_EQ(get(router_, "/index.html").body, get(router_, "/").body);
}

TEST_F(WebPageTest, UnknownNamesAreNotFound) {
  EXPECT_EQ(get(router_, "/app/nope.js").status, 404);
  EXPECT_EQ(get(router_, "/app/").status, 404);
  EXPECT_EQ(get(router_, "/app/index.html").status, 404);  // the page lives at / only
  EXPECT_EQ(get(router_, "/app/client-entry.js").status, 404);  // the bundle's source is not served
}

TEST_F(WebPageTest, CspAllowsNoInlineCodeAndNoOtherOrigins) {
  EXPECT_NE(kPageCsp.find("default-src 'none'"), std::string_view::npos);
  EXPECT_NE(kPageCsp.find("script-src 'self';"), std::string_view::npos);
  EXPECT_EQ(kPageCsp.find("unsafe"), std::string_view::npos);
}

}  // namespace
}  // namespace blobsync::http
