// RoomAnnouncer: the hook through which PUT /blobs/<hash>?room=R reaches a
// room's _blobRegistry. Rooms live in the sync layer, above http, so the
// http layer only knows this interface; `blobsync serve` wires the sync
// layer's implementation (sync/http_room_writer.h) into Api::rooms.
//
//   auto w = api.rooms->open(room, req);   // credentials and room limits,
//                                          // before the body is read
//   ...store with PutOptions::hold = (*w)->hold()...
//   (*w)->announce(hash, size);            // blocks until durable
//
// Thread safety: open() may be called from any thread; a RoomWriter is used
// by one thread at a time (the upload's) and may be destroyed on any.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/digest.h"
#include "core/error.h"
#include "http/http_types.h"
#include "http/xrpc_error.h"

namespace blobsync::http {

// One upload's claim on a room: keeps the room loaded until destroyed.
class RoomWriter {
 public:
  virtual ~RoomWriter() = default;
  // The lifecycle hold the room's registry entry will be (room_holder()):
  // the blob carries it from its first commit, so no sweep finds it unheld
  // before the announcement.
  virtual const std::string& hold() const = 0;
  // This server's URL as it appears in the registry's `holders`.
  virtual const std::string& holder_url() const = 0;
  // Lists this server as a holder of `hash` in the room, as the blob channel
  // does after a verified upload; returns once the change is durable.
  // Blocks (never call on an I/O thread). Errors: the room's store error,
  // or kTimeout when the room did not answer.
  virtual Result<> announce(const Digest& hash, std::uint64_t size) = 0;
};

class RoomAnnouncer {
 public:
  virtual ~RoomAnnouncer() = default;
  // Whether `req`'s credentials (?token= or Authorization: Bearer, as on
  // /sync/<room>) may write `room`, then loads it. Errors: 400 InvalidRequest
  // (bad room name), 401 AuthenticationRequired/InvalidToken/ExpiredToken,
  // 403 Forbidden (a token for other rooms, read scope), 503 (room limits,
  // stopping).
  virtual XResult<std::unique_ptr<RoomWriter>> open(std::string_view room, const Request& req) = 0;
};

}  // namespace blobsync::http
