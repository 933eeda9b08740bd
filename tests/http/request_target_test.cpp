// Request targets (src/http/request_target.cpp): origin-form only, the path
// and the query parameters percent-decoded, in order.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "http/request_target.h"

namespace blobsync::http {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

TEST(RequestTarget, PathAndParamsInOrder) {
  Request req;
  ASSERT_TRUE(parse_request_target("/xrpc/com.atproto.sync.getBlob?did=did:plc:abc&cid=bafk&cid=second", req));
  EXPECT_EQ(req.path, "/xrpc/com.atproto.sync.getBlob");
  EXPECT_EQ(req.query, (Params{{"did", "did:plc:abc"}, {"cid", "bafk"}, {"cid", "second"}}));
  EXPECT_EQ(req.param("cid"), "bafk");
  EXPECT_EQ(req.params("cid").size(), 2u);
}

TEST(RequestTarget, PercentDecoding) {
  Request req;
  ASSERT_TRUE(parse_request_target("/blobs/a%20b%2Fc?k%3D=v%26w&e=%C3%A9", req));
  EXPECT_EQ(req.path, "/blobs/a b/c");
  EXPECT_EQ(req.query, (Params{{"k=", "v&w"}, {"e", "\xC3\xA9"}}));
}

TEST(RequestTarget, KeysWithoutValues) {
  Request req;
  ASSERT_TRUE(parse_request_target("/x?flag&empty=&k=v", req));
  EXPECT_EQ(req.query, (Params{{"flag", ""}, {"empty", ""}, {"k", "v"}}));
  Request bare;
  ASSERT_TRUE(parse_request_target("/", bare));
  EXPECT_EQ(bare.path, "/");
  EXPECT_TRUE(bare.query.empty());
}

// Absolute form, authority form, "*", relative paths and broken escapes are
// refused and leave the request as it was.
TEST(RequestTarget, NotOriginFormIsRefusedAndChangesNothing) {
  for (const char* bad : {"", "*", "x/y", "http://evil.example/x", "example.com:443", "/a%zz", "/a%", "/a b",
                          "/x?k=%G1", "/x#frag"}) {
    Request req;
    req.path = "/before";
    req.query = {{"a", "b"}};
    EXPECT_FALSE(parse_request_target(bad, req)) << bad;
    EXPECT_EQ(req.path, "/before") << bad;
    EXPECT_EQ(req.query, (Params{{"a", "b"}})) << bad;
  }
}

// A target with a NUL escape decodes to a path holding it; handlers check
// syntax on top (it is not a C string anywhere).
TEST(RequestTarget, EscapedNulIsKeptNotTruncated) {
  Request req;
  ASSERT_TRUE(parse_request_target("/blobs/a%00b", req));
  EXPECT_EQ(req.path, std::string("/blobs/a\0b", 10));
}

}  // namespace
}  // namespace blobsync::http
