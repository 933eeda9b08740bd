// Access (src/sync/access.cpp): what a connection may do, from its room and
// its credential. Cases are rows of tables where they can be, so new kinds
// of credential add rows, not tests. Room tokens themselves:
// room_token_test.cpp.
#include "sync/access.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace blobsync::sync {
namespace {

Access access(const SyncConfig& c, std::string_view query, std::string_view auth = "",
              std::string_view room = "r") {
  return decide_access(c, room, query, auth, 1000).access;
}

TEST(Access, Tokens) {
  SyncConfig open;
  EXPECT_EQ(access(open, ""), Access::kReadWrite);
  EXPECT_EQ(access(open, "anything"), Access::kReadWrite);  // open: a token changes nothing
  SyncConfig c;
  c.tokens = {"rw"};
  c.read_only_tokens = {"ro"};
  EXPECT_EQ(access(c, ""), Access::kDenied);
  EXPECT_EQ(decide_access(c, "r", "", "", 0).close_code, kCloseUnauthorized);
  EXPECT_EQ(access(c, "rw"), Access::kReadWrite);
  EXPECT_EQ(access(c, "ro"), Access::kReadOnly);
  EXPECT_EQ(access(c, "r"), Access::kDenied);
  EXPECT_EQ(access(c, "", "Bearer rw"), Access::kReadWrite);
  EXPECT_EQ(access(c, "", "bearer  ro "), Access::kReadOnly);
  EXPECT_EQ(access(c, "", "Basic rw"), Access::kDenied);
  EXPECT_EQ(access(c, "nope", "Bearer rw"), Access::kDenied);  // the query token wins
  SyncConfig required;
  required.require_token = true;  // no static token: only room tokens (none here) open it
  EXPECT_EQ(access(required, ""), Access::kDenied);
}

// Servers of a mesh share peer_token; it is accepted without being a client token.
TEST(Access, PeerTokenIsReadWrite) {
  SyncConfig c;
  c.tokens = {"rw"};
  c.peer_token = "mesh-secret";
  EXPECT_EQ(access(c, "mesh-secret"), Access::kReadWrite);
  EXPECT_TRUE(decide_access(c, "r", "mesh-secret", "", 0).peer);
  EXPECT_EQ(access(c, "", "Bearer mesh-secret"), Access::kReadWrite);
  EXPECT_EQ(access(c, "mesh-secre"), Access::kDenied);
  EXPECT_EQ(access(c, "rw"), Access::kReadWrite);
  EXPECT_FALSE(decide_access(c, "r", "rw", "", 0).peer);
  SyncConfig no_peer_token;
  no_peer_token.tokens = {"rw"};
  EXPECT_EQ(access(no_peer_token, ""), Access::kDenied);  // an empty peer_token matches nothing
  SyncConfig open_with_peer_token;
  open_with_peer_token.peer_token = "mesh-secret";
  EXPECT_EQ(access(open_with_peer_token, ""), Access::kReadWrite);  // still open: it adds, never closes
  EXPECT_FALSE(decide_access(open_with_peer_token, "r", "", "", 0).peer);
}

// peer_tokens (accepted) replaces peer_token (presented) as what peers must show.
TEST(Access, PeerTokensAreWhatIsAccepted) {
  SyncConfig c;
  c.tokens = {"rw"};
  c.peer_token = "presented";
  c.peer_tokens = {"accepted-1", "accepted-2"};
  EXPECT_TRUE(decide_access(c, "r", "accepted-2", "", 0).peer);
  EXPECT_FALSE(decide_access(c, "r", "presented", "", 0).peer);
  EXPECT_EQ(access(c, "presented"), Access::kDenied);
}

// `_mesh` lists every room: peers only, unless the server is open and has no peer token (an open mesh).
TEST(Access, MeshRoomIsForPeers) {
  SyncConfig c;
  c.tokens = {"rw"};
  c.peer_token = "mesh-secret";
  auto d = decide_access(c, kMeshRoom, "rw", "", 0);
  EXPECT_EQ(d.access, Access::kDenied);
  EXPECT_EQ(d.close_code, kCloseForbidden);
  EXPECT_EQ(access(c, "mesh-secret", "", kMeshRoom), Access::kReadWrite);
  SyncConfig open_with_peer;
  open_with_peer.peer_token = "mesh-secret";
  EXPECT_EQ(access(open_with_peer, "", "", kMeshRoom), Access::kDenied);
  EXPECT_EQ(access(open_with_peer, "", "", "_meshx"), Access::kReadWrite);
  SyncConfig closed_no_peer;
  closed_no_peer.tokens = {"rw"};
  EXPECT_EQ(access(closed_no_peer, "rw", "", kMeshRoom), Access::kDenied);
  SyncConfig open_mesh;
  EXPECT_EQ(access(open_mesh, "", "", kMeshRoom), Access::kReadWrite);
}

// The Authorization header: "Bearer" in any case, one space, the token;
// spaces around are ignored, anything else denies.
TEST(Access, BearerHeaderSyntax) {
  SyncConfig c;
  c.tokens = {"rw"};
  struct Row {
    std::string query, authorization;
    Access want;
  };
  for (const auto& row : std::vector<Row>{
           {"", "BEARER rw", Access::kReadWrite},
           {"", "  Bearer rw  ", Access::kReadWrite},
           {"", "Bearer", Access::kDenied},
           {"", "Bearer ", Access::kDenied},
           {"", "Bearerrw", Access::kDenied},
           {"", "Bearer\trw", Access::kDenied},
           {"", "Bearer rw2", Access::kDenied},
           {"", "Bearer r", Access::kDenied},
           {"", "Bearer RW", Access::kDenied},  // tokens are case-sensitive
           {"", "Token rw", Access::kDenied},
           {"rw", "garbage", Access::kReadWrite},
       }) {
    EXPECT_EQ(access(c, row.query, row.authorization), row.want)
        << "query '" << row.query << "' authorization '" << row.authorization << "'";
  }
}

// Read-only tokens alone also close the server to everyone else.
TEST(Access, ReadOnlyTokensAloneRequireAToken) {
  SyncConfig c;
  c.read_only_tokens = {"ro1", "ro2"};
  EXPECT_EQ(access(c, "", ""), Access::kDenied);
  EXPECT_EQ(access(c, "ro2", ""), Access::kReadOnly);
  EXPECT_EQ(access(c, "ro3", ""), Access::kDenied);
  c.tokens = {"both"};
  c.read_only_tokens.push_back("both");  // listed twice: the stronger access wins
  EXPECT_EQ(access(c, "both", ""), Access::kReadWrite);
}

}  // namespace
}  // namespace blobsync::sync
