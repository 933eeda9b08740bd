// HS256 JSON Web Tokens (RFC 7519) for XRPC sessions, signed with OpenSSL
// HMAC-SHA256 and compared in constant time.
//
// Access tokens: header typ "at+jwt", scope "com.atproto.access".
// Refresh tokens: typ "refresh+jwt", scope "com.atproto.refresh", with a jti
// that the account store can revoke. Both carry sub (the DID), aud (the
// service DID), iat and exp (seconds).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>

namespace blobsync::http {

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

std::string jwt_sign(const JwtClaims& claims, std::span<const std::uint8_t> secret);

// Checks structure, alg == HS256, the signature and exp > now.
[[nodiscard]] std::expected<JwtClaims, JwtError> jwt_verify(std::string_view token,
                                                            std::span<const std::uint8_t> secret, std::int64_t now);

std::string base64url_encode(std::span<const std::uint8_t> data);
// Rejects padding and characters outside the URL-safe alphabet.
[[nodiscard]] std::expected<std::string, JwtError> base64url_decode(std::string_view text);

}  // namespace blobsync::http
