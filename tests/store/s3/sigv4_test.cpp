// The SigV4 signer against the examples of the AWS S3 documentation
// ("Signature Calculations for the Authorization Header: Transferring Payload
// in a Single Chunk"), all with AKIAIOSFODNN7EXAMPLE, us-east-1 and
// 20130524T000000Z. fake_s3.py verifies libcurl's signatures with the same
// algorithm, so these vectors anchor the integration tests too.
#include <gtest/gtest.h>

#include "store/s3/sigv4.h"

namespace blobsync::s3 {
namespace {

const SigV4Key kKey{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3"};
constexpr const char* kDate = "20130524T000000Z";
constexpr const char* kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* kHost = "examplebucket.s3.amazonaws.com";

TEST(SigV4, GetObjectWithRange) {
  SigV4Request r{"GET", "/test.txt", "",
                 {{"Host", kHost}, {"Range", "bytes=0-9"}, {"x-amz-content-sha256", kEmpty}, {"x-amz-date", kDate}},
                 kEmpty};
  SigV4Result s = sign(r, kKey, kDate);
  EXPECT_EQ(s.canonical_request,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(s.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, PutObject) {
  std::string body = "Welcome to Amazon S3.";
  std::string hash = sha256_hex(std::as_bytes(std::span(body)));
  ASSERT_EQ(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  SigV4Request r{"PUT", uri_encode("/test$file.text", true), "",
                 {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                  {"Host", kHost},
                  {"x-amz-date", kDate},
                  {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                  {"x-amz-content-sha256", hash}},
                 hash};
  SigV4Result s = sign(r, kKey, kDate);
  EXPECT_EQ(r.canonical_uri, "/test%24file.text");
  EXPECT_EQ(s.signed_headers, "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
  EXPECT_EQ(s.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4, GetBucketLifecycle) {
  SigV4Request r{"GET", "/", canonical_query({{"lifecycle", ""}}),
                 {{"Host", kHost}, {"x-amz-date", kDate}, {"x-amz-content-sha256", kEmpty}},
                 kEmpty};
  EXPECT_EQ(r.canonical_query, "lifecycle=");
  EXPECT_EQ(sign(r, kKey, kDate).signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4, ListObjectsSortsTheQuery) {
  // Given in the "wrong" order: canonical_query must sort it.
  SigV4Request r{"GET", "/", canonical_query({{"prefix", "J"}, {"max-keys", "2"}}),
                 {{"Host", kHost}, {"x-amz-date", kDate}, {"x-amz-content-sha256", kEmpty}},
                 kEmpty};
  EXPECT_EQ(r.canonical_query, "max-keys=2&prefix=J");
  EXPECT_EQ(sign(r, kKey, kDate).signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, AnyChangeChangesTheSignature) {
  SigV4Request r{"GET", "/test.txt", "", {{"Host", kHost}, {"x-amz-date", kDate}, {"x-amz-content-sha256", kEmpty}},
                 kEmpty};
  std::string base = sign(r, kKey, kDate).signature;
  SigV4Request other = r;
  other.payload_hash = "UNSIGNED-PAYLOAD";
  EXPECT_NE(sign(other, kKey, kDate).signature, base);
  SigV4Key key2 = kKey;
  key2.region = "eu-west-1";
  EXPECT_NE(sign(r, key2, kDate).signature, base);
  EXPECT_NE(sign(r, kKey, "20130525T000000Z").signature, base);
}

TEST(SigV4, HeaderValuesAreTrimmedAndCollapsed) {
  SigV4Request a{"GET", "/", "", {{"Host", kHost}, {"X-Amz-Meta-A", "  a   b  "}}, kEmpty};
  SigV4Request b{"GET", "/", "", {{"host", kHost}, {"x-amz-meta-a", "a b"}}, kEmpty};
  EXPECT_EQ(sign(a, kKey, kDate).signature, sign(b, kKey, kDate).signature);
}

TEST(UriEncode, KeepsOnlyUnreserved) {
  EXPECT_EQ(uri_encode("a-b_c.d~e", false), "a-b_c.d~e");
  EXPECT_EQ(uri_encode("a b+c=d/e", false), "a%20b%2Bc%3Dd%2Fe");
  EXPECT_EQ(uri_encode("blobs/ab", true), "blobs/ab");
  EXPECT_EQ(uri_encode("\xc3\xa9", false), "%C3%A9");
}

TEST(CanonicalQuery, BareNamesGetAnEqualsSign) {
  EXPECT_EQ(canonical_query({{"uploads", ""}}), "uploads=");
  EXPECT_EQ(canonical_query({{"uploadId", "a/b+c=="}, {"partNumber", "2"}}), "partNumber=2&uploadId=a%2Fb%2Bc%3D%3D");
  EXPECT_EQ(canonical_query({{"prefix", "blobs/"}, {"list-type", "2"}, {"continuation-token", "x y"}}),
            "continuation-token=x%20y&list-type=2&prefix=blobs%2F");
  EXPECT_EQ(canonical_query({}), "");
}

}  // namespace
}  // namespace blobsync::s3
