#include <gtest/gtest.h>

#include "http/jwt.h"

#include <boost/json.hpp>

namespace blobsync::http {
namespace {

std::vector<std::uint8_t> secret(std::string_view s) { return {s.begin(), s.end()}; }

TEST(JwtTest, RoundTrip) {
  JwtClaims c{"at+jwt", "com.atproto.access", "did:plc:abc", "did:web:x", "", 100, 200};
  auto token = jwt_sign(c, secret("k1k1k1k1k1k1k1k1"));
  auto v = jwt_verify(token, secret("k1k1k1k1k1k1k1k1"), 150);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->sub, "did:plc:abc");
  EXPECT_EQ(v->typ, "at+jwt");
  EXPECT_EQ(v->exp, 200);
}

TEST(JwtTest, RejectsForgedExpiredAndMalformed) {
  JwtClaims c{"at+jwt", "com.atproto.access", "did:plc:abc", "did:web:x", "", 100, 200};
  auto token = jwt_sign(c, secret("k1k1k1k1k1k1k1k1"));
  EXPECT_EQ(jwt_verify(token, secret("other-secret-000"), 150).error(), JwtError::kBadSignature);
  EXPECT_EQ(jwt_verify(token, secret("k1k1k1k1k1k1k1k1"), 200).error(), JwtError::kExpired);
  EXPECT_FALSE(jwt_verify("a.b", secret("k"), 0));
  EXPECT_FALSE(jwt_verify("a.b.c.d", secret("k"), 0));
  EXPECT_FALSE(jwt_verify("", secret("k"), 0));
  EXPECT_FALSE(jwt_verify("!!.??.##", secret("k"), 0));
  // Flip one payload character.
  auto tampered = token;
  tampered[tampered.find('.') + 3] ^= 1;
  EXPECT_FALSE(jwt_verify(tampered, secret("k1k1k1k1k1k1k1k1"), 150));
  // alg none is never accepted.
  auto dot = token.find('.');
  std::string none = base64url_encode(std::span<const std::uint8_t>(
                         reinterpret_cast<const std::uint8_t*>(R"({"alg":"none"})"), 14)) +
                     token.substr(dot, token.rfind('.') - dot) + ".";
  EXPECT_FALSE(jwt_verify(none, secret("k1k1k1k1k1k1k1k1"), 150));
}

TEST(JwtTest, Base64Url) {
  std::string s = "any carnal pleas";
  auto enc = base64url_encode(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
  EXPECT_EQ(enc, "YW55IGNhcm5hbCBwbGVhcw");
  EXPECT_EQ(*base64url_decode(enc), s);
  EXPECT_FALSE(base64url_decode("YW55=="));
  EXPECT_FALSE(base64url_decode("Y"));
}

// The generic HS256 part: any typ and payload, claims untouched.
TEST(JwtTest, GenericDecode) {
  auto k = secret("k1k1k1k1k1k1k1k1");
  auto token = jwt_sign_json("custom+jwt", {{"x", 1}, {"rooms", boost::json::array{"a"}}}, k);
  auto parts = jwt_decode_hs256(token, k);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->header.at("typ").as_string(), "custom+jwt");
  EXPECT_EQ(parts->header.at("alg").as_string(), "HS256");
  EXPECT_EQ(parts->payload.at("x").as_int64(), 1);
  EXPECT_EQ(jwt_decode_hs256(token, secret("k2k2k2k2k2k2k2k2")).error(), JwtError::kBadSignature);
  // A payload that is not an object, correctly signed.
  std::string body = base64url_encode(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>("[1]"), 3));
  auto header = token.substr(0, token.find('.'));
  auto forged = jwt_sign_json("x", {}, k);
  EXPECT_FALSE(jwt_decode_hs256(header + "." + body + "." + forged.substr(forged.rfind('.') + 1), k));
  EXPECT_EQ(jwt_decode_hs256(std::string(kMaxJwtBytes + 1, 'a'), k).error(), JwtError::kMalformed);
}

}  // namespace
}  // namespace blobsync::http
