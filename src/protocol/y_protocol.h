// The y-protocols message constants (y-protocols/sync.js, awareness.js,
// auth.js; y-websocket's messageQueryAwareness), the one definition that the
// server's rooms, the client and the mesh all use. A message is
// [varUint type, ...]; a sync message is [0, varUint sub, varBytes payload].
// Both varUints are one byte for these values.
//
// Thread safety: constants only.
#pragma once

#include <cstdint>

namespace blobsync::protocol {

// Message types (the first varUint of every y-websocket frame).
inline constexpr std::uint8_t kMsgSync = 0;
inline constexpr std::uint8_t kMsgAwareness = 1;
inline constexpr std::uint8_t kMsgAuth = 2;
inline constexpr std::uint8_t kMsgQueryAwareness = 3;

// Sync sub-messages (the second varUint of a kMsgSync frame).
inline constexpr std::uint8_t kSyncStep1 = 0;  // a state vector
inline constexpr std::uint8_t kSyncStep2 = 1;  // the update the peer lacks
inline constexpr std::uint8_t kSyncUpdate = 2;  // an incremental update

}  // namespace blobsync::protocol
