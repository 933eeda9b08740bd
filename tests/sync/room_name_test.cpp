#include "sync/room_name.h"

#include <gtest/gtest.h>

#include "sync/access.h"

namespace blobsync::sync {
namespace {

TEST(RoomName, AcceptsTypicalNames) {
  for (const char* n : {"notes", "team/notes", "a.b-c_d~e", "user@host:1", "x%20y", "!$&'()*+,;=", "A1"})
    EXPECT_TRUE(validate_room_name(n)) << n;
  EXPECT_TRUE(validate_room_name(std::string(kMaxRoomName, 'a')));
}

TEST(RoomName, RejectsBadNames) {
  for (const char* n : {"", "/a", "a/", "a//b", "..", "a/../b", ".", "a/./b", "a b", "a?b", "a#b", "x%2", "x%zz",
                        "caf\xc3\xa9", "a\\b", "a\"b"})
    EXPECT_FALSE(validate_room_name(n)) << n;
  EXPECT_FALSE(validate_room_name(std::string(kMaxRoomName + 1, 'a')));
  EXPECT_FALSE(validate_room_name(std::string("a\0b", 3)));
}

TEST(RoomName, FromTargetAndQuery) {
  EXPECT_EQ(room_from_target("/sync/team/notes?token=x", "/sync/").value(), "team/notes");
  EXPECT_EQ(room_from_target("/sync/r", "/sync/").value(), "r");
  EXPECT_FALSE(room_from_target("/sync/", "/sync/"));
  EXPECT_FALSE(room_from_target("/other/r", "/sync/"));
  EXPECT_EQ(query_param("/sync/r?a=1&token=s%20t+u&b", "token"), "s t u");
  EXPECT_EQ(query_param("/sync/r?tokenx=1", "token"), "");
  EXPECT_EQ(query_param("/sync/r", "token"), "");
}

TEST(Access, Tokens) {
  SyncConfig open;
  EXPECT_EQ(decide_access(open, "", ""), Access::kReadWrite);
  SyncConfig c;
  c.tokens = {"rw"};
  c.read_only_tokens = {"ro"};
  EXPECT_EQ(decide_access(c, "", ""), Access::kDenied);
  EXPECT_EQ(decide_access(c, "rw", ""), Access::kReadWrite);
  EXPECT_EQ(decide_access(c, "ro", ""), Access::kReadOnly);
  EXPECT_EQ(decide_access(c, "r", ""), Access::kDenied);
  EXPECT_EQ(decide_access(c, "", "Bearer rw"), Access::kReadWrite);
  EXPECT_EQ(decide_access(c, "", "bearer  ro "), Access::kReadOnly);
  EXPECT_EQ(decide_access(c, "", "Basic rw"), Access::kDenied);
  EXPECT_EQ(decide_access(c, "nope", "Bearer rw"), Access::kDenied);  // the query token wins
}

// Servers of a mesh share peer_token; it is accepted without being a client token.
TEST(Access, PeerTokenIsReadWrite) {
  SyncConfig c;
  c.tokens = {"rw"};
  c.peer_token = "mesh-secret";
  EXPECT_EQ(decide_access(c, "mesh-secret", ""), Access::kReadWrite);
  EXPECT_EQ(decide_access(c, "", "Bearer mesh-secret"), Access::kReadWrite);
  EXPECT_EQ(decide_access(c, "mesh-secre", ""), Access::kDenied);
  EXPECT_EQ(decide_access(c, "rw", ""), Access::kReadWrite);
  SyncConfig no_peer_token;
  no_peer_token.tokens = {"rw"};
  EXPECT_EQ(decide_access(no_peer_token, "", ""), Access::kDenied);  // an empty peer_token matches nothing
  SyncConfig open_with_peer_token;
  open_with_peer_token.peer_token = "mesh-secret";
  EXPECT_EQ(decide_access(open_with_peer_token, "", ""), Access::kReadWrite);  // still open: it adds, never closes
}

}  // namespace
}  // namespace blobsync::sync
