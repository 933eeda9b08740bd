// Access: what a WebSocket connection may do, decided from its pre-shared
// token (`?token=` query parameter or `Authorization: Bearer <token>`).
//
//   no tokens configured          -> kReadWrite for everyone
//   token in SyncConfig::tokens   -> kReadWrite
//   SyncConfig::peer_token        -> kReadWrite (another server of the mesh)
//   token in read_only_tokens     -> kReadOnly (sync step 2 and updates
//                                    dropped, blob UPLOAD gets FORBIDDEN)
//   anything else / no token      -> kDenied (closed with code 4401)
//
// Tokens are compared in constant time.
//
// Thread safety: pure function over immutable config.
#pragma once

#include <string_view>

#include "sync/sync_config.h"

namespace blobsync::sync {

enum class Access { kDenied, kReadOnly, kReadWrite };

inline constexpr std::uint16_t kCloseUnauthorized = 4401;

// query_token: the decoded ?token= value ("" if absent); authorization: the
// Authorization header value ("" if absent).
Access decide_access(const SyncConfig& config, std::string_view query_token, std::string_view authorization);

}  // namespace blobsync::sync
