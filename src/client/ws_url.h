// WsUrl: a server's sync URL (ws://host:port/sync or wss://, TLS) and the
// URL of one room on it, as y-websocket builds them: serverUrl + "/" + room +
// "?token=...".
//
// Thread safety: plain values and pure functions.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace blobsync::client {

struct WsUrl {
  std::string host;  // brackets of an IPv6 literal removed
  std::string port;  // "80" (ws) or "443" (wss) when absent
  std::string path;  // "/sync" (no trailing slash)
  bool tls = false;  // wss://
  bool operator==(const WsUrl&) const = default;
};

// Accepts ws://HOST[:PORT][/PATH] and wss://... (the scheme in any case).
// Anything else, https:// included, is kInvalidArgument: a sync URL names a
// WebSocket endpoint, and y-websocket clients are given the same string.
Result<WsUrl> parse_ws_url(std::string_view url);

// "/sync/<room>?token=<token>" (token omitted when empty; both percent-encoded
// where needed).
std::string room_target(const WsUrl& url, std::string_view room, std::string_view token = {});

// "ws://host:port/path" or "wss://...", the port always spelled out.
std::string to_string(const WsUrl& url);

}  // namespace blobsync::client
