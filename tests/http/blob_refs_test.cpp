// Blob references in records (src/http/blob_refs.cpp): found at any depth,
// and each malformed one refused with where it is and why.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>
#include <vector>

#include "core/blob_id.h"
#include "core/sha256.h"
#include "http/blob_refs.h"

namespace blobsync::http {
namespace {

Digest digest_of(std::string_view s) { return Sha256::of(s.data(), s.size()); }

std::string blob_json(const std::string& cid, std::string mime = "\"image/png\"", std::string size = "10") {
  return R"({"$type":"blob","ref":{"$link":")" + cid + R"("},"mimeType":)" + mime + R"(,"size":)" + size + "}";
}

XResult<> find(const std::string& json, std::vector<RecordBlobRef>& out) {
  return find_blob_refs(boost::json::parse(json), "record", out);
}

TEST(BlobRefs, FindsEveryReferenceAtAnyDepth) {
  auto a = digest_of("a"), b = digest_of("b");
  std::string json = R"({"$type":"app.bsky.feed.post","text":"hi","embed":{"images":[{"alt":"x","image":)" +
                     blob_json(to_cid(a)) + R"(},{"image":)" + blob_json(to_cid(b), "\"image/jpeg\"", "7") +
                     R"(}]},"avatar":)" + blob_json(to_cid(a), "\"image/png\"", "18446744073709551615") + "}";
  std::vector<RecordBlobRef> refs;
  auto r = find(json, refs);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(refs.size(), 3u);
  EXPECT_EQ(refs[0].hash, a);  // object members in document order
  EXPECT_EQ(refs[0].cid, to_cid(a));
  EXPECT_EQ(refs[0].mime_type, "image/png");
  EXPECT_EQ(refs[0].size, 10u);
  EXPECT_EQ(refs[1].hash, b);
  EXPECT_EQ(refs[1].mime_type, "image/jpeg");
  EXPECT_EQ(refs[1].size, 7u);
  EXPECT_EQ(refs[2].size, 18446744073709551615ull);  // sizes past int64 are unsigned in Boost.JSON
}

TEST(BlobRefs, NoReferencesIsFine) {
  std::vector<RecordBlobRef> refs;
  EXPECT_TRUE(find(R"({"text":"no blobs","n":[1,2,{"$type":"other"}],"t":{"$type":5}})", refs));
  EXPECT_TRUE(find("42", refs));
  EXPECT_TRUE(refs.empty());
}

// Each malformed reference: 400 InvalidRequest naming the place and the reason.
TEST(BlobRefs, MalformedReferencesNameWhereAndWhy) {
  const std::string cid = to_cid(digest_of("a"));
  struct Case {
    std::string blob, why;
  };
  const std::vector<Case> cases = {
      {R"({"$type":"blob","mimeType":"image/png","size":1})", "missing ref"},
      {R"({"$type":"blob","ref":"x","mimeType":"image/png","size":1})", "missing ref"},
      {R"({"$type":"blob","ref":{"link":"x"},"mimeType":"image/png","size":1})", "ref must be {\"$link\": CID}"},
      {R"({"$type":"blob","ref":{"$link":5},"mimeType":"image/png","size":1})", "ref must be {\"$link\": CID}"},
      {blob_json(to_hash_ref(digest_of("a"))), "ref must be a base32 CID"},
      {blob_json("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"), "ref must be a base32 CID"},
      {blob_json("bafkreinotacid"), ""},
      {blob_json(cid, "5"), "mimeType must be a string"},
      {blob_json(cid, "\"\""), "mimeType must be a string"},
      {R"({"$type":"blob","ref":{"$link":")" + cid + R"("},"size":1})", "mimeType must be a string"},
      {blob_json(cid, "\"image/png\"", "-1"), "size must be a non-negative integer"},
      {blob_json(cid, "\"image/png\"", "1.5"), "size must be a non-negative integer"},
      {blob_json(cid, "\"image/png\"", "\"10\""), "size must be a non-negative integer"},
      {R"({"$type":"blob","ref":{"$link":")" + cid + R"("},"mimeType":"image/png"})",
       "size must be a non-negative integer"},
  };
  for (const auto& c : cases) {
    std::vector<RecordBlobRef> refs;
    auto r = find(R"({"embed":{"images":[{"ok":1},{"image":)" + c.blob + "}]}}", refs);
    ASSERT_FALSE(r) << c.blob;
    EXPECT_EQ(r.error().status, 400);
    EXPECT_EQ(r.error().name, "InvalidRequest");
    EXPECT_NE(r.error().message.find("at record/embed/images/1/image: " + c.why), std::string::npos)
        << c.blob << " -> " << r.error().message;
  }
}

// The first bad reference stops the walk; a bad one after good ones still fails.
TEST(BlobRefs, OneBadReferenceFailsTheRecord) {
  const std::string good = blob_json(to_cid(digest_of("a")));
  std::vector<RecordBlobRef> refs;
  auto r = find("[" + good + "," + R"({"$type":"blob"})" + "]", refs);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("record/1"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace blobsync::http
