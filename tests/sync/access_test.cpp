// Access (src/sync/access.cpp): what a connection may do, from its token.
// Cases are rows of a table so that new kinds of token add rows, not tests.
#include "sync/access.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace blobsync::sync {
namespace {

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
    EXPECT_EQ(decide_access(c, row.query, row.authorization), row.want)
        << "query '" << row.query << "' authorization '" << row.authorization << "'";
  }
}

// Read-only tokens alone also close the server to everyone else.
TEST(Access, ReadOnlyTokensAloneRequireAToken) {
  SyncConfig c;
  c.read_only_tokens = {"ro1", "ro2"};
  EXPECT_EQ(decide_access(c, "", ""), Access::kDenied);
  EXPECT_EQ(decide_access(c, "ro2", ""), Access::kReadOnly);
  EXPECT_EQ(decide_access(c, "ro3", ""), Access::kDenied);
  c.tokens = {"both"};
  c.read_only_tokens.push_back("both");  // listed twice: the stronger access wins
  EXPECT_EQ(decide_access(c, "both", ""), Access::kReadWrite);
}

}  // namespace
}  // namespace blobsync::sync
