#include "http/jwt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/json.hpp>

namespace blobsync::http {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string hmac(std::string_view signing_input, std::span<const std::uint8_t> secret) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac, &len);
  return base64url_encode(std::span<const std::uint8_t>(mac, len));
}

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

std::string base64url_encode(std::span<const std::uint8_t> data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    std::uint32_t v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (data.size() - i == 1) {
    std::uint32_t v = data[i] << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (data.size() - i == 2) {
    std::uint32_t v = (data[i] << 16) | (data[i + 1] << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::expected<std::string, JwtError> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::unexpected(JwtError::kMalformed);
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return std::unexpected(JwtError::kMalformed);
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::string jwt_sign_json(std::string_view typ, const boost::json::object& payload,
                          std::span<const std::uint8_t> secret) {
  boost::json::object header{{"alg", "HS256"}, {"typ", typ}};
  std::string input = base64url_encode(bytes_of(boost::json::serialize(header))) + "." +
                      base64url_encode(bytes_of(boost::json::serialize(payload)));
  return input + "." + hmac(input, secret);
}

std::expected<JwtParts, JwtError> jwt_decode_hs256(std::string_view token, std::span<const std::uint8_t> secret) {
  if (token.size() > kMaxJwtBytes) return std::unexpected(JwtError::kMalformed);
  auto d1 = token.find('.');
  if (d1 == std::string_view::npos) return std::unexpected(JwtError::kMalformed);
  auto d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return std::unexpected(JwtError::kMalformed);
  auto header_json = base64url_decode(token.substr(0, d1));
  auto payload_json = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  if (!header_json || !payload_json) return std::unexpected(JwtError::kMalformed);

  boost::system::error_code ec;
  auto header = boost::json::parse(*header_json, ec);
  if (ec || !header.is_object()) return std::unexpected(JwtError::kMalformed);
  const auto* alg = header.as_object().if_contains("alg");
  // Only HS256: never "none", never an algorithm chosen by the token.
  if (!alg || !alg->is_string() || alg->as_string() != "HS256") return std::unexpected(JwtError::kBadSignature);

  std::string expected = hmac(token.substr(0, d2), secret);
  std::string_view given = token.substr(d2 + 1);
  if (given.size() != expected.size() || CRYPTO_memcmp(given.data(), expected.data(), given.size()) != 0)
    return std::unexpected(JwtError::kBadSignature);

  auto payload = boost::json::parse(*payload_json, ec);
  if (ec || !payload.is_object()) return std::unexpected(JwtError::kMalformed);
  return JwtParts{std::move(header.as_object()), std::move(payload.as_object())};
}

std::string jwt_sign(const JwtClaims& c, std::span<const std::uint8_t> secret) {
  boost::json::object payload{{"scope", c.scope}, {"sub", c.sub}, {"aud", c.aud}, {"iat", c.iat}, {"exp", c.exp}};
  if (!c.jti.empty()) payload["jti"] = c.jti;
  return jwt_sign_json(c.typ, payload, secret);
}

std::expected<JwtClaims, JwtError> jwt_verify(std::string_view token, std::span<const std::uint8_t> secret,
                                              std::int64_t now) {
  auto parts = jwt_decode_hs256(token, secret);
  if (!parts) return std::unexpected(parts.error());
  const auto& o = parts->payload;
  JwtClaims c;
  auto str = [&](const char* k, std::string& out) {
    if (const auto* v = o.if_contains(k); v && v->is_string()) out = std::string(v->as_string());
  };
  auto num = [&](const char* k, std::int64_t& out) {
    if (const auto* v = o.if_contains(k); v && v->is_int64()) out = v->as_int64();
    else if (v && v->is_uint64()) out = static_cast<std::int64_t>(v->as_uint64());
  };
  if (const auto* t = parts->header.if_contains("typ"); t && t->is_string()) c.typ = std::string(t->as_string());
  str("scope", c.scope);
  str("sub", c.sub);
  str("aud", c.aud);
  str("jti", c.jti);
  num("iat", c.iat);
  num("exp", c.exp);
  if (c.sub.empty() || c.exp == 0) return std::unexpected(JwtError::kMalformed);
  if (c.exp <= now) return std::unexpected(JwtError::kExpired);
  return c;
}

}  // namespace blobsync::http
