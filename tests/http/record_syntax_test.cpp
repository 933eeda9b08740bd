// Record addressing syntax (src/http/record_syntax.cpp): collection NSIDs and
// record keys, both straight from the network.
#include <gtest/gtest.h>

#include <string>

#include "http/record_syntax.h"

namespace blobsync::http {
namespace {

TEST(RecordSyntax, Nsids) {
  EXPECT_TRUE(valid_nsid("app.bsky.feed.post"));
  EXPECT_TRUE(valid_nsid("com.example.x"));
  EXPECT_TRUE(valid_nsid("a-b.c1.d-2"));
  EXPECT_FALSE(valid_nsid(""));
  EXPECT_FALSE(valid_nsid("com.example"));       // two segments
  EXPECT_FALSE(valid_nsid("com..example.x"));    // empty segment
  EXPECT_FALSE(valid_nsid(".com.example.x"));
  EXPECT_FALSE(valid_nsid("com.example.x."));
  EXPECT_FALSE(valid_nsid("com.1example.x"));    // segment starts with a digit
  EXPECT_FALSE(valid_nsid("com.-example.x"));
  EXPECT_FALSE(valid_nsid("com.exa_mple.x"));
  EXPECT_FALSE(valid_nsid("com.example.x/y"));
  EXPECT_FALSE(valid_nsid("com.example.\xc3\xa9t\xc3\xa9"));
  EXPECT_FALSE(valid_nsid(std::string_view("com.example.a\0b", 15)));
}

TEST(RecordSyntax, NsidLengthLimits) {
  const std::string seg63(63, 'a'), seg64(64, 'a');
  EXPECT_TRUE(valid_nsid("com." + seg63 + ".x"));
  EXPECT_FALSE(valid_nsid("com." + seg64 + ".x"));
  // 317 characters in all: five 63-character segments and one of 1 make 321.
  std::string at_limit = seg63 + "." + seg63 + "." + seg63 + "." + seg63 + "." + std::string(61, 'a');
  ASSERT_EQ(at_limit.size(), 317u);
  EXPECT_TRUE(valid_nsid(at_limit));
  EXPECT_FALSE(valid_nsid(at_limit + "a"));
}

TEST(RecordSyntax, Rkeys) {
  EXPECT_TRUE(valid_rkey("3jzfcijpj2z2a"));
  EXPECT_TRUE(valid_rkey("self"));
  EXPECT_TRUE(valid_rkey("a.b_c:d~e-f"));
  EXPECT_TRUE(valid_rkey("..."));
  EXPECT_TRUE(valid_rkey(std::string(512, 'k')));
  EXPECT_FALSE(valid_rkey(std::string(513, 'k')));
  EXPECT_FALSE(valid_rkey(""));
  EXPECT_FALSE(valid_rkey("."));
  EXPECT_FALSE(valid_rkey(".."));
  EXPECT_FALSE(valid_rkey("a/b"));
  EXPECT_FALSE(valid_rkey("../etc"));
  EXPECT_FALSE(valid_rkey("a b"));
  EXPECT_FALSE(valid_rkey("a%2F"));
  EXPECT_FALSE(valid_rkey("a?b"));
  EXPECT_FALSE(valid_rkey(std::string_view("a\0b", 3)));
}

}  // namespace
}  // namespace blobsync::http
