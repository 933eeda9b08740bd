// Room: one document shared over WebSocket at /sync/<name>, loaded lazily
// from the RoomStore and unloaded when idle. All of its state lives on its
// own strand; the public methods post there and return at once.
//
// Durability: a delta the document emits is appended to the RoomStore and
// every message that reveals document state ([0,2,delta] broadcasts, step 2
// replies, the [0,0,SV] greeting) is held back until the store says it is
// durable, in order. Awareness and errors are not held. If the store fails,
// the room closes every connection (1011) and unloads without the
// undurable change; clients still have it and resend it on reconnect.
//
// Parking: once its last connection left and everything it applied is
// durable (no held messages, no pending registry work, no announced blobs),
// the room hands RoomManager a ParkedRoom (parked_room.h) and closes; the
// manager makes a new Room from it on the next acquire(). A room the manager
// refuses to park (someone holds it) retries on its next tick. A room that
// was never stored (nothing ever changed its document) unloads instead: it
// keeps neither a row in the store nor memory.
//
// Registry maintenance: announce()/withdraw() edit _blobRegistry as this
// server; after every remote change to _blobRegistry (and after loading a
// room where this server announced blobs) registry_reconcile() runs once,
// debounced with random jitter (docs/protocol.md, "Why the registry
// converges").
//
// Thread safety: all public methods may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "store/fwd.h"
#include "sync/connection.h"
#include "sync/room_store.h"
#include "sync/sync_config.h"

namespace blobsync::crdt {
class Doc;
}

namespace boost::asio {
class io_context;
}

namespace blobsync::sync {

class RoomManager;

struct RoomDeps {
  const SyncConfig& config;
  RoomStore& store;
  BlobStore& blobs;
  BlobLifecycle* lifecycle;  // registry entries hold blobs (room_holds.h); null: none kept
  RoomManager& manager;
  std::shared_ptr<void> owner;  // keeps the above alive while the room exists
};

struct RoomStats {
  std::size_t connections = 0;
  std::uint64_t applied_seq = 0, durable_seq = 0;
  std::size_t awareness_states = 0;
};

class Room {
 public:
  virtual ~Room() = default;
  virtual const std::string& name() const = 0;

  // Adds a connection once the room is loaded. ready(true) runs after the
  // greeting was queued; ready(false) if the room could not be loaded or is
  // shutting down (close the connection with 1011).
  virtual void join(std::shared_ptr<Connection> conn, std::function<void(bool)> ready) = 0;
  virtual void leave(ConnId conn) = 0;
  // A Yjs-channel message (any type that is not a blob message). done() runs
  // once it was processed (to pace the connection's reads).
  virtual void message(ConnId conn, bool read_only, std::vector<std::uint8_t> msg, std::function<void()> done) = 0;

  // Lists this server as a holder of `blob` and records the announcement;
  // done runs (on the store thread) once both are durable.
  virtual void announce(const AnnouncedBlob& blob, std::function<void(Result<>)> done) = 0;
  // Which of `hashes` this room's _blobRegistry has a key for (whatever the
  // entry says): what may be read through the room. done runs on the room's
  // strand; all false if the room could not be loaded.
  virtual void listed(std::vector<Digest> hashes, std::function<void(std::vector<bool>)> done) = 0;
  // Removes this server from the blob's entry; done runs once durable.
  virtual void withdraw(const Digest& hash, std::function<void(Result<>)> done) = 0;
  // Clean shutdown, first half (the mesh drains before the service stops):
  // removes this server from every registry entry that lists it, keeping the
  // announcement records (a restart re-announces), and stops registry
  // maintenance so nothing re-adds it before shutdown(); later announce()s
  // are recorded only. done runs once the change is durable, i.e. queued
  // to every connection.
  virtual void withdraw_all(std::function<void(Result<>)> done) = 0;
  // Closes every connection (1001), optionally withdraws every blob this
  // server announced here, folds the log into a snapshot; done when queued
  // (RoomStore::flush() then makes it durable).
  virtual void shutdown(bool withdraw_all, std::function<void()> done) = 0;

  virtual void stats(std::function<void(RoomStats)> done) = 0;

  // Runs fn on the room's strand with its document (nullptr if the room
  // could not be loaded or has closed); what fn changes goes out as this
  // server's own update, as announce()'s does. For the mesh's directory room,
  // which so needs no second copy of the document (mesh/local_replica.h).
  virtual void edit(std::function<void(crdt::Doc*)> fn) = 0;

  // Pins held by RoomManager users; guarded by the manager's mutex for
  // increments.
  std::atomic<int> users{0};
};

// With `preloaded` (an un-parked room, see parked_room.h) the room starts
// from it instead of reading the store.
std::shared_ptr<Room> make_room(RoomDeps deps, std::string name, boost::asio::io_context& ioc,
                                std::optional<StoredRoom> preloaded = std::nullopt);

}  // namespace blobsync::sync
