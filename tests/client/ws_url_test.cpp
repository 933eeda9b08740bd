#include "client/ws_url.h"

#include <gtest/gtest.h>

namespace blobsync::client {
namespace {

TEST(WsUrl, ParsesServerUrls) {
  auto u = parse_ws_url("ws://127.0.0.1:3913/sync");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "3913");
  EXPECT_EQ(u->path, "/sync");
  EXPECT_EQ(to_string(*u), "ws://127.0.0.1:3913/sync");
  auto d = parse_ws_url("ws://example.test/sync/");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->port, "80");
  EXPECT_EQ(d->path, "/sync");
  auto v6 = parse_ws_url("ws://[::1]:9/s");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(to_string(*v6), "ws://[::1]:9/s");
  EXPECT_FALSE(v6->tls);
}

TEST(WsUrl, ParsesTlsUrls) {
  auto u = parse_ws_url("wss://example.test/sync");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "example.test");
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(to_string(*u), "wss://example.test:443/sync");
  auto p = parse_ws_url("WSS://127.0.0.1:4443/sync/");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->tls);
  EXPECT_EQ(p->port, "4443");
  EXPECT_EQ(to_string(*p), "wss://127.0.0.1:4443/sync");
  auto v6 = parse_ws_url("wss://[::1]/s");
  ASSERT_TRUE(v6);
  EXPECT_EQ(to_string(*v6), "wss://[::1]:443/s");
  // The same host and port over TLS is another server as far as a client can
  // tell: a pooled plain connection must not stand in for it.
  EXPECT_NE(*parse_ws_url("ws://h:443/sync"), *parse_ws_url("wss://h:443/sync"));
  EXPECT_EQ(*parse_ws_url("wss://h/sync"), *parse_ws_url("wss://h:443/sync"));
}

TEST(WsUrl, RejectsOtherUrls) {
  for (const char* bad : {"", "http://x/sync", "ws://", "ws://h:1/sync?x=1", "not a url", "https://h/sync",
                          "wss://", "wss://h/sync#f", "wss://user@h/sync", "ftp://h/sync"}) {
    auto r = parse_ws_url(bad);
    EXPECT_FALSE(r) << bad;
  }
}

TEST(WsUrl, RoomTargetFollowsYWebsocket) {
  auto u = *parse_ws_url("ws://h:1/sync");
  EXPECT_EQ(room_target(u, "notes"), "/sync/notes");
  EXPECT_EQ(room_target(u, "team/notes", "s3cr et"), "/sync/team/notes?token=s3cr%20et");
}

}  // namespace
}  // namespace blobsync::client
