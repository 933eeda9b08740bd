// DialPolicy and its URL canonicalisation: the holder URLs it sees are
// written by clients, so every spelling trick must land on "refused" unless
// it names the same server as a peer or lies under a mesh_allow prefix on
// whole components.
#include "mesh/dial_policy.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

namespace blobsync::mesh {
namespace {

std::string canon(std::string_view url) {
  auto c = canonical_ws_url(url);
  return c ? c->str() : "error: " + c.error().message;
}

bool covers(std::string_view prefix, std::string_view url) {
  auto p = canonical_ws_url(prefix);
  auto u = canonical_ws_url(url);
  return p && u && within(*p, *u);
}

TEST(CanonicalUrl, EquivalentSpellingsMeetInOneForm) {
  EXPECT_EQ(canon("ws://127.0.0.1:4001/sync"), "ws://127.0.0.1:4001/sync");
  EXPECT_EQ(canon("WS://127.0.0.1:4001/sync/"), "ws://127.0.0.1:4001/sync");
  EXPECT_EQ(canon("ws://127.0.0.1:4001/sync///"), "ws://127.0.0.1:4001/sync");
  EXPECT_EQ(canon("ws://Example.COM/sync"), "ws://example.com:80/sync");
  EXPECT_EQ(canon("ws://example.com:80/sync"), "ws://example.com:80/sync");
  EXPECT_EQ(canon("ws://example.com:/sync"), "ws://example.com:80/sync");
  EXPECT_EQ(canon("ws://h:04001"), "ws://h:4001");
  EXPECT_EQ(canon("ws://h:4001/"), "ws://h:4001");
  EXPECT_EQ(canon("ws://[::1]:4001/sync"), "ws://[::1]:4001/sync");
  EXPECT_EQ(canon("ws://[::FFFF:7f00:1]/Sync"), "ws://[::ffff:7f00:1]:80/Sync");  // paths keep their case
}

TEST(CanonicalUrl, AmbiguousOrHostileSpellingsAreRefused) {
  for (const char* bad : {
           "ws://peer@evil/sync",                    // userinfo
           "ws://user:pw@127.0.0.1:4001/sync",
           "ws://127.0.0.1:4001@evil:4001/sync",
           "ws://127.0.0.1:4001/sync?token=x",      // query
           "ws://127.0.0.1:4001/sync#x",            // fragment
           "ws://127.0.0.1:4001/sync/../admin",     // dot segments
           "ws://127.0.0.1:4001/./sync",
           "ws://127.0.0.1:4001//sync",              // empty segment
           "ws://127.0.0.1%2e:4001/sync",            // percent escapes
           "ws://127.0.0.1:4001/%73ync",
           "ws://127.0.0.1:65536/sync",              // port range
           "ws://127.0.0.1:0/sync",
           "ws://127.0.0.1:-1/sync",
           "ws://127.0.0.1:+80/sync",
           "ws://127.0.0.1:4001:5/sync",
           "ws://127.0.0.1:100000/sync"})
    EXPECT_FALSE(canonical_ws_url(bad)) << bad;
  EXPECT_EQ(canon("ws://127.0.0.1:0000004001/sync"), "ws://127.0.0.1:4001/sync");  // leading zeros are the number
  for (const char* bad : {"ws:// 127.0.0.1/sync", "ws://127.0.0.1/sync\n", "ws://a\\b/sync", "ws://h/s\xc3\xa9",
                          "http://127.0.0.1:4001/sync", "ws:/127.0.0.1/sync", "ws://", "ws:///sync", "ws://[::1",
                          "ws://[::1]x/sync", "ws://[zz]/sync", "ws://ho_st/sync", "127.0.0.1:4001/sync"})
    EXPECT_FALSE(canonical_ws_url(bad)) << bad;
  for (const char* bad : {"https://h/sync", "wss://peer@evil/sync", "wss://h/sync?x", "wss://", "wss://h:0/sync"})
    EXPECT_FALSE(canonical_ws_url(bad)) << bad;
}

TEST(CanonicalUrl, TlsUrlsKeepTheirScheme) {
  EXPECT_EQ(canon("wss://Example.COM/sync"), "wss://example.com:443/sync");
  EXPECT_EQ(canon("WSS://h:443/sync/"), "wss://h:443/sync");
  EXPECT_EQ(canon("wss://h:/sync"), "wss://h:443/sync");
  EXPECT_EQ(canon("wss://[::1]:4001/sync"), "wss://[::1]:4001/sync");
  // One host and port, two servers as far as the policy knows: plain and
  // TLS never stand in for each other.
  EXPECT_NE(canon("ws://h:443/sync"), canon("wss://h:443/sync"));
  EXPECT_NE(*canonical_ws_url("ws://h:443/sync"), *canonical_ws_url("wss://h/sync"));
  EXPECT_TRUE(covers("wss://h:4001", "wss://h:4001/sync"));
  EXPECT_TRUE(covers("wss://h", "WSS://H:443/sync"));
  EXPECT_FALSE(covers("ws://h:4001", "wss://h:4001/sync"));
  EXPECT_FALSE(covers("wss://h:4001", "ws://h:4001/sync"));
}

TEST(CanonicalUrl, PrefixesMatchWholeComponents) {
  EXPECT_TRUE(covers("ws://127.0.0.1:4001", "ws://127.0.0.1:4001/sync"));
  EXPECT_TRUE(covers("ws://127.0.0.1:4001/", "ws://127.0.0.1:4001"));
  EXPECT_TRUE(covers("ws://h/sync", "ws://h/sync"));
  EXPECT_TRUE(covers("ws://h/sync", "ws://H:80/sync/x/"));
  EXPECT_FALSE(covers("ws://127.0.0.1:400", "ws://127.0.0.1:4001/sync"));  // a port is not a string prefix
  EXPECT_FALSE(covers("ws://127.0.0.1:4001", "ws://127.0.0.1:40010/sync"));
  EXPECT_FALSE(covers("ws://127.0.0.1", "ws://127.0.0.1:4001/sync"));       // no port means 80
  EXPECT_FALSE(covers("ws://127.0.0.1", "ws://127.0.0.1.evil.com/sync"));  // nor is a host
  EXPECT_FALSE(covers("ws://evil", "ws://evil.com/sync"));
  EXPECT_FALSE(covers("ws://h/sync", "ws://h/syncx"));                      // nor a path segment
  EXPECT_FALSE(covers("ws://h/sync", "ws://h/"));
  EXPECT_FALSE(covers("ws://h/sync/a", "ws://h/sync"));
  EXPECT_FALSE(covers("ws://h/sync", "ws://h/sync/../x"));                  // refused outright
  EXPECT_FALSE(covers("ws://h/sync", "ws://x@h/sync"));
}

class Policy : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = DialPolicy::create(
        "ws://127.0.0.1:4000/sync",
        {"ws://127.0.0.1:4001/sync", "ws://127.0.0.1:4000/sync/", "WS://127.0.0.1:4001/sync/", "ws://peer2:4002/sync"},
        {"ws://127.0.0.1:5000/mesh"}, "peer-secret");
    ASSERT_TRUE(p) << p.error().message;
    policy = *p;
  }
  DialPolicy::Kind kind(std::string_view holder) { return policy->classify(holder).kind; }
  std::shared_ptr<DialPolicy> policy;
};

TEST_F(Policy, PeersGetThePeerTokenUnderTheirConfiguredName) {
  EXPECT_EQ(policy->peers(), (std::vector<std::string>{"ws://127.0.0.1:4001/sync", "ws://peer2:4002/sync"}));
  for (const char* spelling : {"ws://127.0.0.1:4001/sync", "ws://127.0.0.1:4001/sync/", "WS://127.0.0.1:04001/sync"}) {
    auto t = policy->classify(spelling);
    EXPECT_EQ(t.kind, DialPolicy::Kind::kPeer) << spelling;
    EXPECT_EQ(t.url, "ws://127.0.0.1:4001/sync");
    EXPECT_EQ(t.token, "peer-secret");
  }
  EXPECT_EQ(kind("ws://PEER2:4002/sync"), DialPolicy::Kind::kPeer);
  EXPECT_EQ(kind("ws://127.0.0.1:4000/sync"), DialPolicy::Kind::kSelf);
  EXPECT_EQ(kind("ws://127.0.0.1:4000/sync/"), DialPolicy::Kind::kSelf);
}

TEST_F(Policy, AllowedHoldersGetNoTokenAndEverythingElseIsRefused) {
  auto t = policy->classify("ws://127.0.0.1:5000/mesh/a/");
  EXPECT_EQ(t.kind, DialPolicy::Kind::kAllowed);
  EXPECT_EQ(t.url, "ws://127.0.0.1:5000/mesh/a");
  EXPECT_EQ(t.token, "");
  for (const char* bad : {
           "ws://127.0.0.1:4001/sync/x",          // a peer is one URL, not a prefix
           "ws://127.0.0.1:4001/syn",
           "ws://127.0.0.1:80/sync",
           "ws://peer@127.0.0.1:4001/sync",        // userinfo posing as a peer
           "ws://127.0.0.1:4001@127.0.0.1:5000/mesh",
           "ws://127.0.0.1:5000/meshx",            // crosses a segment
           "ws://127.0.0.1:50001/mesh",            // crosses the port
           "ws://127.0.0.1:5000/mesh/../sync",
           "ws://127.0.0.1:5000",
           "ws://localhost:4001/sync",             // another name is another server
           "wss://127.0.0.1:4001/sync",
           "not a url"}) {
    auto r = policy->classify(bad);
    EXPECT_EQ(r.kind, DialPolicy::Kind::kRefused) << bad;
    EXPECT_EQ(r.token, "") << bad;
  }
}

TEST_F(Policy, AdmitDeduplicatesDropsSelfAndCountsRefusals) {
  auto got = policy->admit({"ws://127.0.0.1:4001/sync/", "ws://127.0.0.1:4000/sync", "ws://evil:1/sync",
                            "ws://127.0.0.1:4001/sync", "ws://127.0.0.1:5000/mesh", "ws://evil:1/sync"});
  EXPECT_EQ(got, (std::vector<std::string>{"ws://127.0.0.1:4001/sync", "ws://127.0.0.1:5000/mesh"}));
  EXPECT_EQ(policy->refused(), 1u);
  // Refusals are remembered in bounded memory (and logged once each: quiet here).
  auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::warn);
  std::vector<std::string> junk;
  for (int i = 0; i < 3000; ++i) junk.push_back("ws://junk:" + std::to_string(1000 + i) + "/sync");
  EXPECT_TRUE(policy->admit(junk).empty());
  EXPECT_EQ(policy->refused(), DialPolicy::kMaxLogged);
  spdlog::set_level(level);
}

TEST(DialPolicyCreate, TlsPeersAndPrefixes) {
  auto p = DialPolicy::create("wss://a.example/sync", {"wss://a.example:443/sync", "wss://b.example:4002/sync"},
                              {"wss://holders.example/mesh"}, "peer-secret");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ((*p)->peers(), (std::vector<std::string>{"wss://b.example:4002/sync"}));  // itself left out
  auto t = (*p)->classify("WSS://B.example:4002/sync/");
  EXPECT_EQ(t.kind, DialPolicy::Kind::kPeer);
  EXPECT_EQ(t.url, "wss://b.example:4002/sync");
  EXPECT_EQ(t.token, "peer-secret");
  EXPECT_EQ((*p)->classify("ws://b.example:4002/sync").kind, DialPolicy::Kind::kRefused);  // not over TLS: not the peer
  auto h = (*p)->classify("wss://holders.example:443/mesh/x");
  EXPECT_EQ(h.kind, DialPolicy::Kind::kAllowed);
  EXPECT_EQ(h.url, "wss://holders.example:443/mesh/x");
  EXPECT_EQ((*p)->classify("ws://holders.example:443/mesh/x").kind, DialPolicy::Kind::kRefused);
}

TEST(DialPolicyCreate, RejectsPeersAndPrefixesThatAreNotCanonical) {
  EXPECT_FALSE(DialPolicy::create("ws://a/sync", {"ws://x@b/sync"}, {}, ""));
  EXPECT_FALSE(DialPolicy::create("ws://a/sync", {}, {"ws://127.0.0.1:400?"}, ""));
  EXPECT_FALSE(DialPolicy::create("ws://a/sync", {}, {"ws://h/a/../b"}, ""));
  EXPECT_FALSE(DialPolicy::create("ws://a/sync", {"https://b/sync"}, {}, ""));  // an HTTP URL is not a sync URL
  auto ok = DialPolicy::create("wss://public.example/sync", {"ws://b/sync"}, {}, "");
  ASSERT_TRUE(ok);
  EXPECT_EQ((*ok)->classify("wss://public.example/sync").kind, DialPolicy::Kind::kSelf);
  EXPECT_EQ((*ok)->classify("WSS://public.example:443/sync/").kind, DialPolicy::Kind::kSelf);
  EXPECT_EQ((*ok)->classify("ws://public.example/sync").kind, DialPolicy::Kind::kRefused);
  EXPECT_EQ((*ok)->peer_token(), "");
  EXPECT_EQ((*ok)->classify("ws://b/sync").token, "");  // no peer_token: no token at all
}

}  // namespace
}  // namespace blobsync::mesh
