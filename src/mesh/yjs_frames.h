// The few y-protocols sync frames the mesh builds or recognises itself:
// [0, sub, varBytes(payload)] with sub 0 = SyncStep1 (a state vector),
// 1 = SyncStep2, 2 = Update (y-protocols/sync.js); the constants are in
// protocol/y_protocol.h.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "crdt/lib0.h"
#include "protocol/y_protocol.h"

namespace blobsync::mesh {

inline std::vector<std::uint8_t> sync_frame(std::uint8_t sub, crdt::ByteView payload) {
  crdt::Encoder e;
  e.write_var_uint(protocol::kMsgSync);
  e.write_var_uint(sub);
  e.write_var_bytes(payload);
  return e.take();
}

// True for a sync message [0, sub, ...] (both varUints are one byte).
inline bool is_sync(std::span<const std::uint8_t> frame, std::uint8_t sub) {
  return frame.size() >= 2 && frame[0] == protocol::kMsgSync && frame[1] == sub;
}

}  // namespace blobsync::mesh
