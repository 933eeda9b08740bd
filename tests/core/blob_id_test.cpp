#include "core/blob_id.h"

#include <gtest/gtest.h>

#include "core/sha256.h"

namespace blobsync {
namespace {

constexpr char kEmptyRef[] = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kEmptyCid[] = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";

TEST(BlobId, EmptyInputGoldenVectors) {
  Digest d = Sha256::of("", 0);
  EXPECT_EQ(to_hash_ref(d), kEmptyRef);
  EXPECT_EQ(to_cid(d), kEmptyCid);
}

TEST(BlobId, BothSpellingsParseToTheSameDigest) {
  auto a = parse_blob_id(kEmptyRef);
  auto b = parse_blob_id(kEmptyCid);
  ASSERT_TRUE(a.has_value()) << a.error().message;
  ASSERT_TRUE(b.has_value()) << b.error().message;
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, Sha256::of("", 0));
}

TEST(BlobId, RoundTripsRandomDigests) {
  for (int i = 0; i < 200; ++i) {
    std::string input(static_cast<std::size_t>(i), static_cast<char>('a' + i % 26));
    Digest d = Sha256::of(input.data(), input.size());
    auto from_ref = parse_blob_id(to_hash_ref(d));
    auto from_cid = parse_blob_id(to_cid(d));
    ASSERT_TRUE(from_ref && from_cid);
    EXPECT_EQ(*from_ref, d);
    EXPECT_EQ(*from_cid, d);
    EXPECT_EQ(to_cid(d).size(), 59u);
    EXPECT_TRUE(to_cid(d).starts_with("bafkrei"));
  }
}

TEST(BlobId, BareHexOnlyWhereAllowed) {
  std::string hex = std::string(kEmptyRef).substr(7);
  EXPECT_FALSE(parse_blob_id(hex).has_value());
  auto d = parse_blob_id_or_hex(hex);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, Sha256::of("", 0));
}

TEST(BlobId, RejectsBadStringsWithAClearMessage) {
  const char* bad[] = {
      "",
      "sha256:",
      "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",  // uppercase
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",   // 63 digits
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",  // 65 digits
      "sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  // not hex
      "sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709",
      "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyk",    // truncated
      "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvykuq",  // too long
      "BAFKREIHDWDCEFGH4DQKJV67UZCMW7OJEE6XEDZDETOJUZJEVTENXQUVYKU",   // uppercase multibase
      "bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",   // dag-cbor codec
      "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",                  // CIDv0
      "b!!!!",
      "../../etc/passwd",
      "sha256:../../../../../../../../../../../../../../../../../../../etc",
  };
  for (const char* s : bad) {
    auto r = parse_blob_id(s);
    EXPECT_FALSE(r.has_value()) << "accepted: " << s;
    if (!r) {
      EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
      EXPECT_FALSE(r.error().message.empty());
    }
  }
}

}  // namespace
}  // namespace blobsync
