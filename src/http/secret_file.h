// Secrets generated into the data directory when the operator configures
// none: DATA/jwt.secret (XRPC sessions) and DATA/room_token.secret (room
// tokens, sync/room_token.h).
//
// A secret file holds 64 hex digits (32 random bytes from libsodium) and a
// newline; the key is the hex text itself, so copying the file's first line
// into a config key (`jwt_secret`, `room_token_secret`) gives the same key.
// Created once with O_EXCL and mode 0600 (two processes starting together
// both end up reading the one that won) and reused afterwards; a file other
// users can read is used but warned about.
//
// Thread safety: no shared state; concurrent callers (even processes) agree
// on one file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "http/config.h"

namespace blobsync::http {

// Reads `path`, creating it first when `create` and it does not exist.
// Errors: kNotFound (absent and !create), kIOError, kCorruption (not a secret).
Result<std::vector<std::uint8_t>> load_secret_file(const std::filesystem::path& path, bool create);

// The room-token key: config.room_token_secret, else DATA/room_token.secret
// (created when `create` and the data directory exists).
// Errors: as load_secret_file; kNotFound names the data directory and the key.
Result<std::vector<std::uint8_t>> load_room_token_secret(const ServerConfig& config, bool create);

}  // namespace blobsync::http
