// Request targets (src/http/request_target.cpp): origin-form only, the path
// and the query parameters percent-decoded, in order.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

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


// Plain paths (no '%', no '?') skip Boost.URL: every one of these reads the
// same either way, and each character outside pchar still goes through it.
TEST(RequestTarget, PlainPathsMatchBoostUrl) {
  std::vector<std::string> targets = {"/", "/blobs/0123abcdef", "//x", "/a/./b/../c", "/x:y@z", "/!$&'()*+,;=",
                                      "/-._~", "/a//b/", "/xrpc/com.atproto.sync.getBlob"};
  // Each byte after a plain prefix: either a plain character, or one the
  // fast path must hand to Boost.URL (which then decides).
  for (int ch = 0; ch < 256; ++ch) targets.push_back(std::string("/blobs/a") + static_cast<char>(ch) + "b");
  for (const auto& t : targets) {
    Request fast;
    bool ok = parse_request_target(t, fast);
    auto parsed = boost::urls::parse_origin_form(t);
    ASSERT_EQ(ok, static_cast<bool>(parsed)) << t;
    if (!ok) continue;
    std::string path = parsed->path();
    Params query;
    for (auto p : parsed->params()) query.emplace_back(p.key, p.has_value ? p.value : std::string());
    EXPECT_EQ(fast.path, path) << t;
    EXPECT_EQ(fast.query, query) << t;
  }
}

}  // namespace
}  // namespace blobsync::http
