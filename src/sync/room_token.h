// Room tokens: HS256 JWTs that name the rooms they open and whether they
// may write (docs/security.md, "Room tokens"). An app's backend mints them
// with the mesh's `room_token_secret`; `blobsync token create` prints one.
//
//   header   {"alg":"HS256","typ":"blobsync-room+jwt"}
//   payload  {"aud":"blobsync:room",          exactly this string
//             "rooms":["team/*","notes"],     1..64 patterns, each 1..512 bytes
//             "scope":"write",                "read" or "write"
//             "iat":1765000000,               issued at (Unix seconds)
//             "exp":1765086400,               expires at (Unix seconds), > iat
//             "sub":"user-42",                optional: whose quota (1..256 bytes)
//             "quota":1073741824}             optional: bytes it may add (>= 0)
//
// Quotas (docs/security.md, "Quotas"): what a token adds is counted under
// `sub` when present (tokens re-minted for one user share it), else under
// the token itself; `quota` overrides the server's room_token_quota.
//
// The typ and aud differ from ATProto session tokens (typ at+jwt /
// refresh+jwt, aud the service DID), and each side checks its own, so one
// can never stand in for the other even under the same secret.
//
// Patterns: `*` matches any run of characters, `/` included ("team/*" opens
// "team/a/b"); every other byte matches itself (room names are compared raw,
// as the URL carries them). Matching is greedy over the `*`-separated
// segments: O(pattern x name) at worst, never exponential.
//
// Clock skew: a token is accepted until kClockSkewSeconds after its exp and
// from kClockSkewSeconds before its iat, so servers whose clocks disagree by
// up to a minute agree on every token. tokens_not_before (revocation) is
// compared with iat exactly.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace blobsync::sync {

inline constexpr char kRoomTokenType[] = "blobsync-room+jwt";
inline constexpr char kRoomTokenAudience[] = "blobsync:room";
inline constexpr std::int64_t kClockSkewSeconds = 60;
inline constexpr std::size_t kMaxRoomPatterns = 64;
inline constexpr std::size_t kMaxRoomPatternBytes = 512;
inline constexpr std::size_t kMaxSubjectBytes = 256;

enum class RoomScope { kRead, kWrite };

struct RoomToken {
  std::vector<std::string> rooms;  // patterns
  RoomScope scope = RoomScope::kRead;
  std::int64_t iat = 0;
  std::int64_t exp = 0;
  std::string sub;                     // "" when absent
  std::optional<std::uint64_t> quota;  // bytes; absent: room_token_quota
};

enum class RoomTokenError {
  kMalformed,     // not a JWT, a claim missing or of the wrong type, too long
  kBadSignature,  // wrong secret, alg other than HS256
  kNotRoomToken,  // a valid JWT of another kind (typ or aud): e.g. an ATProto session
  kExpired,       // now > exp + skew
  kNotYetValid,   // iat > now + skew
  kRevoked,       // iat < tokens_not_before
};

// One line for a close reason or a log.
std::string_view describe(RoomTokenError e);

std::string mint_room_token(const RoomToken& token, std::span<const std::uint8_t> secret);

// not_before: tokens_not_before in Unix seconds (0: none).
[[nodiscard]] std::expected<RoomToken, RoomTokenError> verify_room_token(std::string_view token,
                                                                         std::span<const std::uint8_t> secret,
                                                                         std::int64_t now, std::int64_t not_before);

// The key a token's usage is counted under: "sub:<sub>", or, without a sub,
// "jwt:<hex SHA-256 of the signature part>" (REQUIRES: a verified token).
std::string quota_key(const RoomToken& token, std::string_view raw_token);

bool room_pattern_matches(std::string_view pattern, std::string_view room);
// Some pattern of the token matches `room`.
bool token_grants_room(const RoomToken& token, std::string_view room);

}  // namespace blobsync::sync
