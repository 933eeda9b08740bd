#include "sync/access.h"

#include <algorithm>

#include "core/secret_compare.h"
#include "sync/room_token.h"

namespace blobsync::sync {

namespace {

bool listed(const std::vector<std::string>& list, std::string_view token) {
  bool found = false;
  for (const auto& t : list) found |= secrets_equal(t, token);  // no early exit: constant time per list
  return found;
}

AccessDecision denied(std::uint16_t code, std::string reason) {
  return {Access::kDenied, false, code, std::move(reason), {}, 0};
}

}  // namespace

bool tokens_required(const SyncConfig& config) {
  return config.require_token.value_or(!config.tokens.empty() || !config.read_only_tokens.empty());
}

bool peer_token_configured(const SyncConfig& config) {
  return !config.peer_tokens.empty() || !config.peer_token.empty();
}

AccessDecision decide_access(const SyncConfig& config, std::string_view room, std::string_view query_token,
                             std::string_view authorization, std::int64_t now) {
  std::string_view token = query_token.empty() ? bearer_token(authorization) : query_token;
  // Back-compat: with no peer_tokens, the token this server presents is the one it accepts.
  bool peer = !token.empty() && (config.peer_tokens.empty()
                                     ? !config.peer_token.empty() && secrets_equal(config.peer_token, token)
                                     : listed(config.peer_tokens, token));
  if (peer) return {Access::kReadWrite, true, 0, {}, {}, 0};

  bool required = tokens_required(config);
  if (room == kMeshRoom && (required || peer_token_configured(config)))
    return denied(kCloseForbidden, "forbidden: the _mesh room is for peer servers only");
  if (!required) return {Access::kReadWrite, false, 0, {}, {}, 0};
  if (token.empty()) return denied(kCloseUnauthorized, "unauthorized: missing token");

  bool rw = listed(config.tokens, token);
  bool ro = listed(config.read_only_tokens, token);
  if (rw) return {Access::kReadWrite, false, 0, {}, {}, 0};
  if (ro) return {Access::kReadOnly, false, 0, {}, {}, 0};

  if (config.room_token_secret.empty()) return denied(kCloseUnauthorized, "unauthorized: unknown token");
  auto t = verify_room_token(token, config.room_token_secret, now, config.tokens_not_before);
  if (!t) {
    // A token that is not a JWT at all is most likely a mistyped static token.
    bool jwt_shaped = std::count(token.begin(), token.end(), '.') == 2;
    return denied(kCloseUnauthorized,
                  std::string("unauthorized: ") + std::string(jwt_shaped ? describe(t.error()) : "unknown token"));
  }
  if (!token_grants_room(*t, room))
    return denied(kCloseForbidden, "forbidden: the token does not open this room");
  return {t->scope == RoomScope::kWrite ? Access::kReadWrite : Access::kReadOnly, false, 0, {},
          quota_key(*t, token), t->quota.value_or(config.room_token_quota)};
}

}  // namespace blobsync::sync
