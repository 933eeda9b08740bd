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
}

TEST(WsUrl, RejectsOtherUrls) {
  for (const char* bad : {"", "http://x/sync", "ws://", "ws://h:1/sync?x=1", "not a url", "wss://h/sync"}) {
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
