// Connection ids of the mesh's in-process connections to local rooms (peer
// links, replicas). They come from the top of the id space so they never
// collide with WebSocket sessions, which count up from 1.
//
// Thread safety: next_mesh_conn_id() may be called from any thread.
#pragma once

#include <atomic>

#include "sync/connection.h"

namespace blobsync::mesh {

inline sync::ConnId next_mesh_conn_id() {
  static std::atomic<sync::ConnId> next{sync::ConnId{1} << 62};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace blobsync::mesh
