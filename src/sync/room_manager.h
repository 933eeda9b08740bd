// RoomManager: the loaded rooms by name. acquire() returns the room, loading
// it on first use; a room unloads itself when nobody holds it and it has been
// idle for SyncConfig::room_idle_timeout (the manager removes it only if no
// acquire() raced it).
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sync/room.h"

namespace blobsync::sync {

class RoomManager {
 public:
  RoomManager(const SyncConfig& config, RoomStore& store, BlobStore& blobs);

  // Rooms keep `owner` (what holds the store, config...) alive.
  void set_owner(std::weak_ptr<void> owner) { owner_ = std::move(owner); }
  // REQUIRES: called before acquire(); the io_context outlives the manager's rooms.
  void set_io_context(boost::asio::io_context& ioc);
  bool has_io_context() const;

  // The room, loaded lazily; pinned until release(). nullptr while stopping.
  std::shared_ptr<Room> acquire(const std::string& name);
  void release(const std::shared_ptr<Room>& room);
  // Runs fn with the room pinned; fn gets a release callback to call when done.
  void with_room(const std::string& name, std::function<void(Room&, std::function<void()> release)> fn);

  // Called by a room from its strand: unloads it if nobody holds it.
  bool try_unload(Room* room);
  // A room that failed (load or store error) leaves the map at once.
  void forget(Room* room);

  // Stops handing out rooms and shuts every loaded room down; done runs (on
  // some room's strand) once all of them queued their final state. Never
  // blocks, so it may be called from an I/O thread.
  void stop(bool withdraw_all, std::function<void()> done = {});
  std::size_t loaded() const;
  std::vector<std::shared_ptr<Room>> rooms() const;

 private:
  const SyncConfig& config_;
  RoomStore& store_;
  BlobStore& blobs_;
  mutable std::mutex mu_;
  boost::asio::io_context* ioc_ = nullptr;                  // guarded by mu_
  std::map<std::string, std::shared_ptr<Room>> rooms_;      // guarded by mu_
  bool stopping_ = false;                                    // guarded by mu_
  std::weak_ptr<void> owner_;
};

}  // namespace blobsync::sync
