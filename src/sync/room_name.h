// Room names: what may follow /sync/ in a WebSocket URL.
//
// The y-websocket client connects to serverUrl + '/' + room (+ '?' params),
// so with serverUrl ws://host:3913/sync the room is the rest of the path. As
// in the reference server the name is taken raw (no percent-decoding), so
// "a%20b" and "a b" are different names. A valid name is 1-256 bytes of
//   A-Z a-z 0-9 . _ ~ : @ ! $ & ' ( ) * + , ; = -   and  /
// plus %XX escapes (two hex digits), with no empty, "." or ".." segment
// (so no leading, trailing or doubled '/').
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace blobsync::sync {

inline constexpr std::size_t kMaxRoomName = 256;

// Errors: kInvalidArgument saying what is wrong.
Result<> validate_room_name(std::string_view name);

// Splits a request target "/sync/<room>?query" given the prefix "/sync/".
// Returns the raw room part (query removed) or an error.
Result<std::string> room_from_target(std::string_view target, std::string_view prefix);

// The value of query parameter `key` (percent-decoded), or "" if absent.
std::string query_param(std::string_view target, std::string_view key);

}  // namespace blobsync::sync
