#include <gtest/gtest.h>

#include "http/origin.h"

namespace blobsync::http {
namespace {

TEST(OriginTest, ParsesCanonically) {
  auto o = parse_origin("HTTPS://App.Example");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->scheme, "https");
  EXPECT_EQ(o->host, "app.example");
  EXPECT_EQ(o->port, 443);
  EXPECT_EQ(o->str(), "https://app.example:443");
  EXPECT_EQ(*parse_origin("http://a.example"), *parse_origin("http://A.EXAMPLE:80"));
  EXPECT_EQ(parse_origin("http://[::1]:8080")->host, "::1");
  EXPECT_EQ(*parse_origin("http://[0:0:0:0:0:0:0:1]:8080"), *parse_origin("http://[::1]:8080"));
  EXPECT_EQ(parse_origin("http://127.0.0.1:3913")->port, 3913);
  // Schemes with no default port (mobile and desktop app shells).
  auto cap = parse_origin("capacitor://localhost");
  ASSERT_TRUE(cap);
  EXPECT_EQ(cap->port, 0);
  EXPECT_EQ(cap->str(), "capacitor://localhost");
}

TEST(OriginTest, RefusesWhatIsNotAnOrigin) {
  for (const char* bad : {"null", "", "*", "app.example", "https://", "https://app.example/", "https://app.example/x",
                          "https://app.example?q", "https://app.example#f", "https://user@app.example",
                          "https://user:pw@app.example", "https://app%2eexample", "https://app.example:",
                          "https://app.example:0", "https://app.example:65536", "https://app.example:99999999",
                          "https://app example", "https://app.example\r\n", "https://\xc3\xa9.example",
                          "https://app!.example", "https://[v1.x]", "https://app.example:80a", "//app.example"}) {
    EXPECT_FALSE(parse_origin(bad)) << bad;
  }
  EXPECT_FALSE(parse_origin("https://" + std::string(2000, 'a') + ".example"));
}

OriginPolicy policy(std::vector<std::string> allowed, std::string url = "ws://127.0.0.1:3913/sync",
                    std::vector<std::string> peers = {}, std::string hostname = "localhost") {
  auto p = OriginPolicy::make({.allowed = std::move(allowed), .public_url = std::move(url), .peers = std::move(peers),
                               .hostname = std::move(hostname)});
  EXPECT_TRUE(p) << p.error().message;
  return *p;
}

TEST(OriginTest, AllowsOwnPeersAndListed) {
  auto p = policy({"https://app.example"}, "wss://sync.example/sync", {"ws://10.0.0.2:4000/sync"});
  EXPECT_TRUE(p.allows("https://app.example", std::nullopt));
  EXPECT_TRUE(p.allows("https://APP.example:443", std::nullopt));
  EXPECT_TRUE(p.allows("https://sync.example", std::nullopt));   // wss -> https, the public url
  EXPECT_FALSE(p.allows("http://sync.example", std::nullopt));
  EXPECT_TRUE(p.allows("http://10.0.0.2:4000", std::nullopt));   // a peer
  EXPECT_FALSE(p.allows("http://10.0.0.2:4001", std::nullopt));
  EXPECT_FALSE(p.allows("https://app.example:8443", std::nullopt));
  EXPECT_FALSE(p.allows("https://app.example.evil", std::nullopt));
  EXPECT_FALSE(p.allows("https://evil.example", std::nullopt));
  EXPECT_FALSE(p.allows("null", std::nullopt));
  EXPECT_FALSE(p.allows("https://app.example/", std::nullopt));
}

TEST(OriginTest, HostNamesThisServerOnlyUnderItsOwnNames) {
  auto p = policy({}, "ws://0.0.0.0:3913/sync", {}, "blobs.example");
  // An IP literal, localhost, the configured hostname: same origin as the Host.
  EXPECT_TRUE(p.allows("http://192.168.1.5:3913", "192.168.1.5:3913"));
  EXPECT_TRUE(p.allows("http://[fe80::1]:3913", "[FE80::1]:3913"));
  EXPECT_TRUE(p.allows("http://localhost:3913", "LOCALHOST:3913"));
  EXPECT_TRUE(p.allows("https://blobs.example", "blobs.example"));  // a TLS proxy passing Host through
  EXPECT_TRUE(p.allows("http://blobs.example", "blobs.example:80"));
  // Port and host must agree.
  EXPECT_FALSE(p.allows("http://192.168.1.5:3914", "192.168.1.5:3913"));
  EXPECT_FALSE(p.allows("https://blobs.example", "blobs.example:80"));
  EXPECT_FALSE(p.allows("http://192.168.1.6:3913", "192.168.1.5:3913"));
  // DNS rebinding: Host and Origin agree on a name that is not ours.
  EXPECT_FALSE(p.allows("http://evil.example:3913", "evil.example:3913"));
  // Only web schemes are same-origin by Host.
  EXPECT_FALSE(p.allows("capacitor://localhost", "localhost"));
  EXPECT_FALSE(p.allows("http://localhost:3913", "user@localhost:3913"));
  EXPECT_FALSE(p.allows("http://localhost:3913", std::nullopt));
}

TEST(OriginTest, StarAllowsEverythingIncludingNull) {
  auto p = policy({"*"});
  EXPECT_TRUE(p.allows("null", std::nullopt));
  EXPECT_TRUE(p.allows("https://anything.example", std::nullopt));
}

TEST(OriginTest, BadConfigNamesTheKey) {
  auto p = OriginPolicy::make({.allowed = {"https://a.example/path"}, .public_url = "", .peers = {}, .hostname = ""});
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("allowed_origins"), std::string::npos);
  EXPECT_FALSE(OriginPolicy::make({.allowed = {}, .public_url = "http://x.example", .peers = {}, .hostname = ""}));
}

TEST(OriginTest, CorsHeaders) {
  EXPECT_TRUE(OriginPolicy::cors_path("/xrpc/com.atproto.sync.getBlob"));
  EXPECT_TRUE(OriginPolicy::cors_path("/blobs/abc"));
  EXPECT_FALSE(OriginPolicy::cors_path("/metrics"));
  EXPECT_FALSE(OriginPolicy::cors_path("/sync/room"));
  Request req;
  req.headers.emplace_back("access-control-request-headers", "Authorization, X-Custom, bad header, atproto-proxy");
  auto r = OriginPolicy::preflight("https://app.example", req);
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.header("access-control-allow-origin"), "https://app.example");
  auto h = std::string(*r.header("access-control-allow-headers"));
  EXPECT_NE(h.find("Content-Type"), std::string::npos);
  EXPECT_NE(h.find("x-custom"), std::string::npos);
  EXPECT_NE(h.find("atproto-proxy"), std::string::npos);
  EXPECT_EQ(h.find("bad header"), std::string::npos);
  EXPECT_EQ(h.find("authorization,"), std::string::npos);  // listed once
  Response plain;
  OriginPolicy::decorate(plain, std::nullopt);
  EXPECT_EQ(plain.header("vary"), "Origin");
  EXPECT_FALSE(plain.header("access-control-allow-origin"));
}

}  // namespace
}  // namespace blobsync::http
