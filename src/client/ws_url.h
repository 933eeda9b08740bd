// WsUrl: a server's sync URL (ws://host:port/sync) and the URL of one room
// on it, as y-websocket builds them: serverUrl + "/" + room + "?token=...".
//
// Thread safety: plain values and pure functions.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace blobsync::client {

struct WsUrl {
  std::string host;
  std::string port;  // "80" when absent
  std::string path;  // "/sync" (no trailing slash)
  bool operator==(const WsUrl&) const = default;
};

// Accepts ws://HOST[:PORT][/PATH]. wss:// is rejected with a clear error for
// now (TLS termination belongs in front of the server).
Result<WsUrl> parse_ws_url(std::string_view url);

// "/sync/<room>?token=<token>" (token omitted when empty; both percent-encoded
// where needed).
std::string room_target(const WsUrl& url, std::string_view room, std::string_view token = {});

std::string to_string(const WsUrl& url);

}  // namespace blobsync::client
