// HttpRoomWriter: the sync layer's side of PUT /blobs/<hash>?room=R
// (http/room_announcer.h). It decides the request's credentials with
// decide_access, exactly as for a WebSocket to /sync/<room> (?token= or
// Authorization: Bearer), loads the room within the client's room limits,
// and announces the stored blob through Room::announce, as the blob channel
// does after a verified upload.
//
// Lifetime: the SyncEndpoint must outlive the announcer and every writer it
// opened (`blobsync serve` drops Api::rooms before it stops the endpoint).
//
// Thread safety: as http::RoomAnnouncer.
#pragma once

#include <memory>

#include "http/room_announcer.h"

namespace blobsync::sync {

class SyncEndpoint;

std::shared_ptr<http::RoomAnnouncer> make_http_room_announcer(SyncEndpoint& sync);

}  // namespace blobsync::sync
