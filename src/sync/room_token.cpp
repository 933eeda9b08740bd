#include "sync/room_token.h"

#include <boost/json.hpp>

#include <cstdint>
#include <optional>

#include "core/sha256.h"
#include "http/jwt.h"

namespace blobsync::sync {

std::string_view describe(RoomTokenError e) {
  switch (e) {
    case RoomTokenError::kMalformed: return "malformed token";
    case RoomTokenError::kBadSignature: return "token signature does not verify";
    case RoomTokenError::kNotRoomToken: return "not a room token";
    case RoomTokenError::kExpired: return "token expired";
    case RoomTokenError::kNotYetValid: return "token issued in the future";
    case RoomTokenError::kRevoked: return "token revoked (issued before tokens_not_before)";
  }
  return "invalid token";
}

std::string mint_room_token(const RoomToken& t, std::span<const std::uint8_t> secret) {
  boost::json::array rooms;
  for (const auto& r : t.rooms) rooms.emplace_back(r);
  boost::json::object payload{{"aud", kRoomTokenAudience},
                              {"rooms", std::move(rooms)},
                              {"scope", t.scope == RoomScope::kWrite ? "write" : "read"},
                              {"iat", t.iat},
                              {"exp", t.exp}};
  if (!t.sub.empty()) payload["sub"] = t.sub;
  if (t.quota) payload["quota"] = *t.quota;
  return http::jwt_sign_json(kRoomTokenType, payload, secret);
}

std::expected<RoomToken, RoomTokenError> verify_room_token(std::string_view token, std::span<const std::uint8_t> secret,
                                                           std::int64_t now, std::int64_t not_before) {
  auto parts = http::jwt_decode_hs256(token, secret);
  if (!parts)
    return std::unexpected(parts.error() == http::JwtError::kBadSignature ? RoomTokenError::kBadSignature
                                                                          : RoomTokenError::kMalformed);
  const auto* typ = parts->header.if_contains("typ");
  const auto* aud = parts->payload.if_contains("aud");
  if (!typ || !typ->is_string() || typ->as_string() != kRoomTokenType || !aud || !aud->is_string() ||
      aud->as_string() != kRoomTokenAudience)
    return std::unexpected(RoomTokenError::kNotRoomToken);

  const auto& o = parts->payload;
  auto seconds = [&](const char* k) -> std::optional<std::int64_t> {
    const auto* v = o.if_contains(k);
    if (v && v->is_int64() && v->as_int64() > 0) return v->as_int64();
    if (v && v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
      return static_cast<std::int64_t>(v->as_uint64());
    return std::nullopt;
  };
  auto iat = seconds("iat"), exp = seconds("exp");
  const auto* scope = o.if_contains("scope");
  const auto* rooms = o.if_contains("rooms");
  if (!iat || !exp || *exp <= *iat || !scope || !scope->is_string() || !rooms || !rooms->is_array())
    return std::unexpected(RoomTokenError::kMalformed);
  RoomToken t;
  t.iat = *iat;
  t.exp = *exp;
  if (scope->as_string() == "write") t.scope = RoomScope::kWrite;
  else if (scope->as_string() == "read") t.scope = RoomScope::kRead;
  else return std::unexpected(RoomTokenError::kMalformed);
  const auto& list = rooms->as_array();
  if (list.empty() || list.size() > kMaxRoomPatterns) return std::unexpected(RoomTokenError::kMalformed);
  for (const auto& r : list) {
    if (!r.is_string() || r.as_string().empty() || r.as_string().size() > kMaxRoomPatternBytes)
      return std::unexpected(RoomTokenError::kMalformed);
    t.rooms.emplace_back(r.as_string());
  }
  if (const auto* sub = o.if_contains("sub")) {
    if (!sub->is_string() || sub->as_string().empty() || sub->as_string().size() > kMaxSubjectBytes)
      return std::unexpected(RoomTokenError::kMalformed);
    t.sub = sub->as_string();
  }
  if (const auto* q = o.if_contains("quota")) {
    if (q->is_uint64()) t.quota = q->as_uint64();
    else if (q->is_int64() && q->as_int64() >= 0) t.quota = static_cast<std::uint64_t>(q->as_int64());
    else return std::unexpected(RoomTokenError::kMalformed);
  }
  // Overflow-safe forms of now > exp + skew and iat > now + skew.
  if (now - kClockSkewSeconds > t.exp) return std::unexpected(RoomTokenError::kExpired);
  if (t.iat - kClockSkewSeconds > now) return std::unexpected(RoomTokenError::kNotYetValid);
  if (not_before > 0 && t.iat < not_before) return std::unexpected(RoomTokenError::kRevoked);
  return t;
}

std::string quota_key(const RoomToken& token, std::string_view raw_token) {
  if (!token.sub.empty()) return "sub:" + token.sub;
  auto dot = raw_token.rfind('.');
  auto sig = dot == std::string_view::npos ? raw_token : raw_token.substr(dot + 1);
  return "jwt:" + Sha256::of(sig.data(), sig.size()).hex();
}

bool room_pattern_matches(std::string_view p, std::string_view s) {
  auto star = p.find('*');
  if (star == std::string_view::npos) return p == s;
  // Literal head and tail anchor the two ends; the segments between stars
  // are then found left to right, each at its leftmost place (taking the
  // leftmost match never loses one later, so no backtracking is needed).
  if (!s.starts_with(p.substr(0, star))) return false;
  s.remove_prefix(star);
  p.remove_prefix(star + 1);
  auto last = p.rfind('*');
  std::string_view tail = last == std::string_view::npos ? p : p.substr(last + 1);
  if (!s.ends_with(tail)) return false;
  s.remove_suffix(tail.size());
  if (last == std::string_view::npos) return true;
  p = p.substr(0, last);
  for (;;) {
    auto next = p.find('*');
    std::string_view seg = p.substr(0, next);
    if (!seg.empty()) {
      auto at = s.find(seg);
      if (at == std::string_view::npos) return false;
      s.remove_prefix(at + seg.size());
    }
    if (next == std::string_view::npos) return true;
    p.remove_prefix(next + 1);
  }
}

bool token_grants_room(const RoomToken& token, std::string_view room) {
  for (const auto& p : token.rooms)
    if (room_pattern_matches(p, room)) return true;
  return false;
}

}  // namespace blobsync::sync
