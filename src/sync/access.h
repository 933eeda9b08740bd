// Access: the one place that turns (room name, credentials) into what a
// WebSocket connection to /sync/<room> may do. The credential is `?token=`
// (it wins) or `Authorization: Bearer <token>`; no other header counts
// (a User-Agent or Origin never changes what the server checks).
//
//   a peer token (SyncConfig::peer_tokens,  -> kReadWrite, peer: any room, `_mesh`
//     else SyncConfig::peer_token)             included; served chunks are not
//                                              re-hashed (the peer verifies) and
//                                              a missing blob is not fetched for it
//   room `_mesh`, anyone else               -> kDenied 4403 when a peer token is
//                                              configured or tokens are required;
//                                              open (kReadWrite) on an open server
//                                              with no peer token (an open mesh)
//   tokens not required (require_token())   -> kReadWrite for everyone (open)
//   no token                                -> kDenied 4401
//   token in SyncConfig::tokens             -> kReadWrite
//   token in read_only_tokens               -> kReadOnly
//   a room token (sync/room_token.h) that   -> kReadOnly (scope read) or
//     verifies and names the room              kReadWrite (scope write)
//   a room token that verifies, other room  -> kDenied 4403 (authenticated, not
//                                              allowed here)
//   anything else (unknown, expired,        -> kDenied 4401
//     revoked, forged, an ATProto token)
//
// kReadOnly: sync step 2 and updates dropped (the document and its
// _blobRegistry, which is part of it), blob UPLOAD answered FORBIDDEN.
// Static tokens and peer tokens are compared in constant time
// (secrets_equal), every list in full. Only a room token carries a storage
// quota (AccessDecision::quota_key); every other credential is exempt.
//
// Thread safety: pure function over immutable config.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sync/sync_config.h"

namespace blobsync::sync {

enum class Access { kDenied, kReadOnly, kReadWrite };

// The mesh's directory room (mesh/mesh.h): lists every room name, so only
// peers may use it.
inline constexpr char kMeshRoom[] = "_mesh";

// Close codes for a refused connection: no valid credential (missing,
// unknown, expired, revoked) / a valid one that does not open this room.
inline constexpr std::uint16_t kCloseUnauthorized = 4401;
inline constexpr std::uint16_t kCloseForbidden = 4403;

struct AccessDecision {
  Access access = Access::kDenied;
  bool peer = false;          // another server of the mesh (a peer token)
  std::uint16_t close_code = 0;  // when kDenied
  std::string reason;            // when kDenied: the close reason
  // A room token's storage quota (docs/security.md, "Quotas"): the key its
  // usage is counted under and its limit (0: none). Empty key: no quota
  // (static tokens, peer tokens, open servers).
  std::string quota_key;
  std::uint64_t quota = 0;
};

// Whether a connection must present a token: SyncConfig::require_token, or
// by default whether static tokens are configured.
bool tokens_required(const SyncConfig& config);
// peer_tokens or peer_token is set.
bool peer_token_configured(const SyncConfig& config);

// query_token: the decoded ?token= value ("" if absent); authorization: the
// Authorization header value ("" if absent); now: Unix seconds.
AccessDecision decide_access(const SyncConfig& config, std::string_view room, std::string_view query_token,
                             std::string_view authorization, std::int64_t now);

}  // namespace blobsync::sync
