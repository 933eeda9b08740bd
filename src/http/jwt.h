// HS256 JSON Web Tokens (RFC 7519), signed with OpenSSL HMAC-SHA256 and
// compared in constant time.
//
// The generic part (jwt_sign_json, jwt_decode_hs256) signs and checks any
// header and payload: only alg HS256 is accepted (never "none", never an
// algorithm the token names), tokens longer than kMaxJwtBytes are refused
// before any decoding, and no claim is interpreted. Room tokens
// (sync/room_token.h) are built on it.
//
// XRPC sessions (jwt_sign, jwt_verify):
// Access tokens: header typ "at+jwt", scope "com.atproto.access".
// Refresh tokens: typ "refresh+jwt", scope "com.atproto.refresh", with a jti
// that the account store can revoke. Both carry sub (the DID), aud (the
// service DID), iat and exp (seconds).
//
// Thread safety: pure functions.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>

namespace blobsync::http {

// Longer tokens are malformed (bounds the work an unauthenticated client causes).
inline constexpr std::size_t kMaxJwtBytes = 8192;

struct JwtClaims {
  std::string typ;    // header "typ"
  std::string scope;
  std::string sub;
  std::string aud;
  std::string jti;    // refresh tokens only
  std::int64_t iat = 0;
  std::int64_t exp = 0;
};

enum class JwtError { kMalformed, kBadSignature, kExpired };

// A token's decoded header and payload, once its HS256 signature checked out.
struct JwtParts {
  boost::json::object header;
  boost::json::object payload;
};

// Signs `payload` with header {"alg":"HS256","typ":typ}.
std::string jwt_sign_json(std::string_view typ, const boost::json::object& payload, std::span<const std::uint8_t> secret);
// Checks length, structure, alg == HS256 and the signature (constant time);
// the header and payload must be JSON objects. Claims are the caller's.
[[nodiscard]] std::expected<JwtParts, JwtError> jwt_decode_hs256(std::string_view token,
                                                                 std::span<const std::uint8_t> secret);

std::string jwt_sign(const JwtClaims& claims, std::span<const std::uint8_t> secret);

// jwt_decode_hs256, then sub and exp present and exp > now.
[[nodiscard]] std::expected<JwtClaims, JwtError> jwt_verify(std::string_view token,
                                                            std::span<const std::uint8_t> secret, std::int64_t now);

std::string base64url_encode(std::span<const std::uint8_t> data);
// Rejects padding and characters outside the URL-safe alphabet.
[[nodiscard]] std::expected<std::string, JwtError> base64url_decode(std::string_view text);

}  // namespace blobsync::http
