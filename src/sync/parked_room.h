// ParkedRoom: what stays in memory of a room that has no connection and whose
// every update is durable in the RoomStore (see RoomManager). The decoded
// document, awareness, strand and timers are gone; the document is kept as
// one merged v1 update so the next join or message reloads it without disk
// I/O (decoding is fast). Rooms that announced blobs are never parked (their
// registry maintenance needs a live room).
//
// Thread safety: a plain value; RoomManager guards the ones it holds.
#pragma once

#include <cstdint>

#include "crdt/lib0.h"
#include "sync/room_store.h"

namespace blobsync::sync {

struct ParkedRoom {
  std::int64_t id = 0;          // RoomStore room id
  std::uint64_t last_seq = 0;   // highest durable sequence number
  crdt::Bytes state;            // encodeStateAsUpdate (v1), shrunk to fit
  std::int64_t parked_ms = 0;   // steady clock, for room_idle_timeout

  // What the room would read from the store: the state as its snapshot.
  StoredRoom to_stored() && {
    StoredRoom r;
    r.id = id;
    r.snapshot = std::move(state);
    r.last_seq = last_seq;
    return r;
  }
};

}  // namespace blobsync::sync
