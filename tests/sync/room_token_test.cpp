// Room tokens (sync/room_token.h): pattern matching, verification, and what
// decide_access makes of them.
#include "sync/room_token.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "http/jwt.h"
#include "sync/access.h"

namespace blobsync::sync {
namespace {

const std::string kKey = "0123456789abcdef0123456789abcdef";
std::span<const std::uint8_t> key() { return {reinterpret_cast<const std::uint8_t*>(kKey.data()), kKey.size()}; }

constexpr std::int64_t kNow = 1'765'000'000;

boost::json::object claims(boost::json::array rooms = {"team/*"}, std::string_view scope = "write") {
  return {{"aud", kRoomTokenAudience}, {"rooms", std::move(rooms)}, {"scope", scope}, {"iat", kNow - 10},
          {"exp", kNow + 3600}};
}

std::string sign(const boost::json::object& payload, std::string_view typ = kRoomTokenType) {
  return http::jwt_sign_json(typ, payload, key());
}

std::expected<RoomToken, RoomTokenError> verify(std::string_view token, std::int64_t now = kNow,
                                                std::int64_t not_before = 0) {
  return verify_room_token(token, key(), now, not_before);
}

std::string b64(std::string_view s) {
  return http::base64url_encode({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

TEST(RoomPattern, LiteralAndStars) {
  EXPECT_TRUE(room_pattern_matches("notes", "notes"));
  EXPECT_FALSE(room_pattern_matches("notes", "notes2"));
  EXPECT_FALSE(room_pattern_matches("notes", "note"));
  EXPECT_TRUE(room_pattern_matches("*", "anything/at/all"));
  EXPECT_TRUE(room_pattern_matches("team/*", "team/a"));
  EXPECT_TRUE(room_pattern_matches("team/*", "team/a/b"));  // * crosses /
  EXPECT_FALSE(room_pattern_matches("team/*", "team"));
  EXPECT_FALSE(room_pattern_matches("team/*", "teams/a"));
  EXPECT_FALSE(room_pattern_matches("team/*", "other/team/a"));
  EXPECT_TRUE(room_pattern_matches("*/notes", "a/b/notes"));
  EXPECT_FALSE(room_pattern_matches("*/notes", "a/b/notes/x"));
  EXPECT_TRUE(room_pattern_matches("a*b*c", "abc"));
  EXPECT_TRUE(room_pattern_matches("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(room_pattern_matches("a*b*c", "aXcYb"));
  EXPECT_TRUE(room_pattern_matches("ab*ba", "aba") == false);  // head and tail may not overlap
  EXPECT_TRUE(room_pattern_matches("ab*ba", "abba"));
  EXPECT_TRUE(room_pattern_matches("**", "x"));
  EXPECT_TRUE(room_pattern_matches("a**b", "ab"));
  EXPECT_TRUE(room_pattern_matches("u/*/doc/*", "u/alice/doc/1"));
  EXPECT_FALSE(room_pattern_matches("u/*/doc/*", "u/alice/docs"));
  EXPECT_TRUE(room_pattern_matches("%20*", "%20x"));  // raw bytes, no decoding
  EXPECT_FALSE(room_pattern_matches("%20*", " x"));
}

// Many stars against a long name that almost matches: a backtracking
// matcher takes exponential time here; this one is quadratic at worst.
TEST(RoomPattern, HostilePatternIsFast) {
  std::string pattern;
  for (int i = 0; i < 200; ++i) pattern += "*a";
  pattern += "*b";
  std::string name(100'000, 'a');
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(room_pattern_matches(pattern, name));
  std::string hit = name + "b";
  EXPECT_TRUE(room_pattern_matches(pattern, hit));
  std::string stars(kMaxRoomPatternBytes, '*');
  EXPECT_TRUE(room_pattern_matches(stars, name));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::milliseconds(500));
}

// Against a plain dynamic-programming glob matcher, on every small pattern
// and name over a tiny alphabet (random sample).
TEST(RoomPattern, AgreesWithReferenceMatcher) {
  auto reference = [](std::string_view p, std::string_view n) {
    std::vector<std::vector<char>> m(p.size() + 1, std::vector<char>(n.size() + 1, 0));
    m[0][0] = 1;
    for (std::size_t i = 1; i <= p.size(); ++i)
      for (std::size_t j = 0; j <= n.size(); ++j)
        m[i][j] = p[i - 1] == '*' ? (m[i - 1][j] || (j > 0 && m[i][j - 1]))
                                  : (j > 0 && m[i - 1][j - 1] && p[i - 1] == n[j - 1]);
    return static_cast<bool>(m[p.size()][n.size()]);
  };
  std::uint64_t x = 42;
  auto next = [&] { return x = x * 6364136223846793005ULL + 1442695040888963407ULL, x >> 33; };
  const char pat_chars[] = "ab/*";
  const char name_chars[] = "ab/";
  for (int round = 0; round < 20000; ++round) {
    std::string p, n;
    for (auto len = next() % 8; len > 0; --len) p += pat_chars[next() % 4];
    for (auto len = next() % 10; len > 0; --len) n += name_chars[next() % 3];
    ASSERT_EQ(room_pattern_matches(p, n), reference(p, n)) << "pattern '" << p << "' name '" << n << "'";
  }
}

TEST(RoomToken, MintVerifyRoundTrip) {
  RoomToken t{{"team/*", "notes"}, RoomScope::kRead, kNow, kNow + 60, "user-1", 4096};
  auto v = verify(mint_room_token(t, key()));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->sub, "user-1");
  EXPECT_EQ(v->quota, std::optional<std::uint64_t>(4096));
  t.sub.clear();
  t.quota.reset();
  v = verify(mint_room_token(t, key()));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->rooms, t.rooms);
  EXPECT_EQ(v->scope, RoomScope::kRead);
  EXPECT_EQ(v->iat, kNow);
  EXPECT_EQ(v->exp, kNow + 60);
  EXPECT_TRUE(token_grants_room(*v, "notes"));
  EXPECT_TRUE(token_grants_room(*v, "team/x/y"));
  EXPECT_FALSE(token_grants_room(*v, "other"));
}

TEST(RoomToken, BadSignatureAndAlgorithms) {
  auto token = sign(claims());
  std::string other = "another-key-another-key-another-k";
  EXPECT_EQ(verify_room_token(token, {reinterpret_cast<const std::uint8_t*>(other.data()), other.size()}, kNow, 0)
                .error(),
            RoomTokenError::kBadSignature);
  auto tampered = token;
  tampered[tampered.find('.') + 5] ^= 1;
  EXPECT_FALSE(verify(tampered));
  auto payload = token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1);
  // alg none, with and without a signature; and another algorithm.
  for (const char* header : {R"({"alg":"none","typ":"blobsync-room+jwt"})", R"({"typ":"blobsync-room+jwt"})",
                             R"({"alg":"HS512","typ":"blobsync-room+jwt"})", R"({"alg":"hs256","typ":"blobsync-room+jwt"})"}) {
    EXPECT_EQ(verify(b64(header) + "." + payload + ".").error(), RoomTokenError::kBadSignature) << header;
    EXPECT_EQ(verify(b64(header) + "." + payload + "." + token.substr(token.rfind('.') + 1)).error(),
              RoomTokenError::kBadSignature)
        << header;
  }
}

TEST(RoomToken, WrongTypeOrAudience) {
  EXPECT_EQ(verify(sign(claims(), "at+jwt")).error(), RoomTokenError::kNotRoomToken);
  EXPECT_EQ(verify(sign(claims(), "JWT")).error(), RoomTokenError::kNotRoomToken);
  auto c = claims();
  c["aud"] = "did:web:localhost";
  EXPECT_EQ(verify(sign(c)).error(), RoomTokenError::kNotRoomToken);
  c["aud"] = boost::json::array{kRoomTokenAudience};  // only the string form
  EXPECT_EQ(verify(sign(c)).error(), RoomTokenError::kNotRoomToken);
  // An ATProto access token signed with the same key.
  http::JwtClaims at{"at+jwt", "com.atproto.access", "did:plc:x", "did:web:localhost", "", kNow, kNow + 60};
  EXPECT_EQ(verify(http::jwt_sign(at, key())).error(), RoomTokenError::kNotRoomToken);
  // And the reverse: a room token is no ATProto session, even under one key.
  auto session = http::jwt_verify(sign(claims()), key(), kNow);
  EXPECT_FALSE(session && session->typ == "at+jwt" && session->scope == "com.atproto.access");
}

TEST(RoomToken, MissingOrBadClaims) {
  for (const char* k : {"rooms", "scope", "iat", "exp"}) {
    auto c = claims();
    c.erase(k);
    EXPECT_EQ(verify(sign(c)).error(), RoomTokenError::kMalformed) << k;
  }
  auto bad = [&](const char* k, boost::json::value v) {
    auto c = claims();
    c[k] = std::move(v);
    return verify(sign(c)).error() == RoomTokenError::kMalformed;
  };
  EXPECT_TRUE(bad("scope", "admin"));
  EXPECT_TRUE(bad("scope", "Write"));
  EXPECT_TRUE(bad("scope", 1));
  EXPECT_TRUE(bad("rooms", "team/*"));
  EXPECT_TRUE(bad("rooms", boost::json::array{}));
  EXPECT_TRUE(bad("rooms", boost::json::array{""}));
  EXPECT_TRUE(bad("rooms", boost::json::array{1}));
  EXPECT_TRUE(bad("rooms", boost::json::array{std::string(kMaxRoomPatternBytes + 1, 'a')}));
  boost::json::array many;
  for (std::size_t i = 0; i <= kMaxRoomPatterns; ++i) many.emplace_back("r");
  EXPECT_TRUE(bad("rooms", many));
  EXPECT_TRUE(bad("exp", "tomorrow"));
  EXPECT_TRUE(bad("exp", kNow - 20));  // exp before iat
  EXPECT_TRUE(bad("iat", -5));
  EXPECT_TRUE(bad("iat", 1.5));
  // Quota claims (docs/security.md, "Quotas").
  EXPECT_TRUE(bad("sub", ""));
  EXPECT_TRUE(bad("sub", 7));
  EXPECT_TRUE(bad("sub", boost::json::string(std::string(kMaxSubjectBytes + 1, 's'))));
  EXPECT_TRUE(bad("quota", -1));
  EXPECT_TRUE(bad("quota", 1.5));
  EXPECT_TRUE(bad("quota", "1GiB"));
  EXPECT_FALSE(bad("quota", 0));
  EXPECT_FALSE(bad("sub", boost::json::string(std::string(kMaxSubjectBytes, 's'))));
  EXPECT_EQ(verify("").error(), RoomTokenError::kMalformed);
  EXPECT_EQ(verify("a.b").error(), RoomTokenError::kMalformed);
  EXPECT_EQ(verify("a.b.c.d").error(), RoomTokenError::kMalformed);
}

TEST(RoomToken, HugeTokenIsRefusedUnread) {
  std::string huge(http::kMaxJwtBytes + 1, 'A');
  huge[100] = '.';
  huge[200] = '.';
  EXPECT_EQ(verify(huge).error(), RoomTokenError::kMalformed);
  std::string one_mb(1 << 20, 'a');
  EXPECT_EQ(verify(one_mb).error(), RoomTokenError::kMalformed);
}

TEST(RoomToken, TimeSkewAndRevocation) {
  auto token = sign(claims());  // iat kNow-10, exp kNow+3600
  EXPECT_TRUE(verify(token, kNow + 3600 + kClockSkewSeconds));
  EXPECT_EQ(verify(token, kNow + 3600 + kClockSkewSeconds + 1).error(), RoomTokenError::kExpired);
  EXPECT_TRUE(verify(token, kNow - 10 - kClockSkewSeconds));
  EXPECT_EQ(verify(token, kNow - 11 - kClockSkewSeconds).error(), RoomTokenError::kNotYetValid);
  EXPECT_TRUE(verify(token, kNow, kNow - 10));  // issued exactly at tokens_not_before
  EXPECT_EQ(verify(token, kNow, kNow - 9).error(), RoomTokenError::kRevoked);
}

// decide_access with room tokens: the room decides 4401 vs 4403, scope decides read vs write.
TEST(RoomToken, DecideAccess) {
  SyncConfig c;
  c.require_token = true;
  c.room_token_secret.assign(kKey.begin(), kKey.end());
  auto write = sign(claims({"team/*", "notes"}, "write"));
  auto read = sign(claims({"notes"}, "read"));
  EXPECT_EQ(decide_access(c, "team/a/b", write, "", kNow).access, Access::kReadWrite);
  EXPECT_EQ(decide_access(c, "notes", "", "Bearer " + write, kNow).access, Access::kReadWrite);
  EXPECT_EQ(decide_access(c, "notes", read, "", kNow).access, Access::kReadOnly);
  auto other = decide_access(c, "other", write, "", kNow);
  EXPECT_EQ(other.access, Access::kDenied);
  EXPECT_EQ(other.close_code, kCloseForbidden);
  auto mesh = decide_access(c, kMeshRoom, sign(claims({"*"})), "", kNow);
  EXPECT_EQ(mesh.access, Access::kDenied);  // `*` never opens the directory
  EXPECT_EQ(mesh.close_code, kCloseForbidden);
  auto expired = decide_access(c, "notes", write, "", kNow + 7200);
  EXPECT_EQ(expired.access, Access::kDenied);
  EXPECT_EQ(expired.close_code, kCloseUnauthorized);
  EXPECT_NE(expired.reason.find("expired"), std::string::npos);
  c.tokens_not_before = kNow;
  auto revoked = decide_access(c, "notes", write, "", kNow);
  EXPECT_EQ(revoked.close_code, kCloseUnauthorized);
  EXPECT_NE(revoked.reason.find("revoked"), std::string::npos);
  c.tokens_not_before = 0;
  http::JwtClaims at{"at+jwt", "com.atproto.access", "did:plc:x", "did:web:localhost", "", kNow, kNow + 60};
  EXPECT_EQ(decide_access(c, "notes", http::jwt_sign(at, key()), "", kNow).close_code, kCloseUnauthorized);
  // Quotas: keyed by sub, else by the token; the claim overrides the config.
  auto w = decide_access(c, "notes", write, "", kNow);
  EXPECT_EQ(w.quota, c.room_token_quota);
  EXPECT_TRUE(w.quota_key.starts_with("jwt:")) << w.quota_key;
  EXPECT_NE(w.quota_key, decide_access(c, "notes", sign(claims({"notes"})), "", kNow).quota_key);
  auto with_sub = claims({"notes"});
  with_sub["sub"] = "alice";
  with_sub["quota"] = 1000;
  auto s = decide_access(c, "notes", sign(with_sub), "", kNow);
  EXPECT_EQ(s.quota_key, "sub:alice");
  EXPECT_EQ(s.quota, 1000u);
  with_sub["iat"] = kNow - 5;  // re-minted for the same user: the same key
  EXPECT_EQ(decide_access(c, "notes", sign(with_sub), "", kNow).quota_key, "sub:alice");
  c.tokens = {"static-token-static-token"};
  EXPECT_EQ(decide_access(c, "notes", "static-token-static-token", "", kNow).quota_key, "") << "static tokens are exempt";
  c.tokens.clear();
  c.room_token_secret.clear();  // no key: no room token is accepted
  EXPECT_EQ(decide_access(c, "notes", write, "", kNow).access, Access::kDenied);
}

}  // namespace
}  // namespace blobsync::sync
