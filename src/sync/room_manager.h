// RoomManager: the loaded rooms by name. acquire() returns the room, loading
// it on first use. A loaded room is either active (a Room) or parked (a
// ParkedRoom: no connection, everything durable; only its encoded state stays
// in memory, see parked_room.h). A room parks itself as soon as it is idle
// and durable and nobody holds it; acquire() un-parks it without disk I/O. A
// parked room is forgotten (it lives on in the store) once it has been parked
// for SyncConfig::room_idle_timeout: each park or acquire looks at two parked
// rooms, and a timer (armed while any room is parked) forgets every expired
// one at once and then hands the freed heap back to the kernel
// (malloc_trim; after a batch, the store's page cache too), so a server whose
// rooms went idle returns to the memory it had before they loaded (issue 20). An
// active room that cannot park (it announced blobs) unloads itself after
// room_idle_timeout as before (the manager removes it only if no acquire()
// raced it). A room never stored (empty) is unloaded, not parked.
//
// Limits (issue 18, docs/security.md "Limits"): a client's acquire() of a
// room not in memory is a new room: at most SyncConfig::max_new_rooms_per_address
// per minute per client address, and at most max_rooms rooms in memory
// (past it a parked room, durable already, is forgotten to make space; with
// none parked the acquire is refused). The server's own acquires are exempt.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "http/rate_limiter.h"
#include "sync/parked_room.h"
#include "sync/room.h"

namespace blobsync::sync {

class RoomManager {
 public:
  // lifecycle may be null (registry entries then hold no blobs).
  RoomManager(const SyncConfig& config, RoomStore& store, BlobStore& blobs, BlobLifecycle* lifecycle);
  ~RoomManager();
  RoomManager(const RoomManager&) = delete;
  RoomManager& operator=(const RoomManager&) = delete;

  // Rooms keep `owner` (what holds the store, config...) alive.
  void set_owner(std::weak_ptr<void> owner) { owner_ = std::move(owner); }
  // REQUIRES: called before acquire(); the io_context outlives the manager's rooms.
  void set_io_context(boost::asio::io_context& ioc);
  bool has_io_context() const;

  // The room, loaded lazily; pinned until release(). nullptr while stopping.
  std::shared_ptr<Room> acquire(const std::string& name);
  // Why a client's acquire() returned nullptr: a WebSocket close code and reason.
  struct Refusal {
    std::uint16_t code = 1001;
    std::string reason = "server shutting down";
  };
  // For a client at `address` (http::client_address_key): as above, within
  // the room limits; on nullptr, *refused says why.
  std::shared_ptr<Room> acquire(const std::string& name, const std::string& address, Refusal* refused);
  void release(const std::shared_ptr<Room>& room);
  // Runs fn with the room pinned; fn gets a release callback to call when done.
  void with_room(const std::string& name, std::function<void(Room&, std::function<void()> release)> fn);

  // Called by a room from its strand: unloads it if nobody holds it.
  bool try_unload(Room* room);
  // Called by a room from its strand: replaces it with `parked` if nobody
  // holds it. On false the room stays active.
  bool try_park(Room* room, ParkedRoom parked);
  // A room that failed (load or store error) leaves the map at once.
  void forget(Room* room);

  // Stops handing out rooms and shuts every loaded room down; done runs (on
  // some room's strand) once all of them queued their final state. Never
  // blocks, so it may be called from an I/O thread.
  void stop(bool withdraw_all, std::function<void()> done = {});
  // Active + parked.
  std::size_t loaded() const;
  std::size_t parked() const;
  // Rooms parked / un-parked since start.
  std::uint64_t parks() const;
  std::uint64_t unparks() const;
  // The active rooms.
  std::vector<std::shared_ptr<Room>> rooms() const;
  // Names of every loaded room, active or parked.
  std::vector<std::string> names() const;

 private:
  // Forgets up to two parked rooms parked longer than room_idle_timeout.
  void sweep_parked_locked();
  // Arms the sweep timer for the oldest parked room, if any and not armed.
  void arm_sweep_locked();
  // The timer fired: forgets every expired parked room, re-arms; returns
  // how many were forgotten; `drained`: no parked room is left.
  std::size_t sweep_expired(bool& drained);
  // SQLite's page cache is dropped after a sweep forgets this many rooms at
  // once, or the last parked ones: bounded work, not once per room.
  static constexpr std::size_t kReleaseAfter = 64;
  struct SweepGuard;  // lets a late timer handler know the manager is gone
  // address null: the server's own, exempt from the limits.
  std::shared_ptr<Room> acquire_locked(const std::string& name, const std::string* address, Refusal* refused);

  const SyncConfig& config_;
  RoomStore& store_;
  BlobStore& blobs_;
  BlobLifecycle* lifecycle_;
  mutable std::mutex mu_;
  boost::asio::io_context* ioc_ = nullptr;                  // guarded by mu_
  std::map<std::string, std::shared_ptr<Room>> rooms_;      // guarded by mu_
  std::map<std::string, ParkedRoom> parked_;                 // guarded by mu_
  std::string sweep_cursor_;                                 // guarded by mu_: last parked name checked
  std::uint64_t parks_ = 0, unparks_ = 0;                    // guarded by mu_
  std::unique_ptr<boost::asio::steady_timer> sweep_timer_;   // guarded by mu_; made on first park
  bool sweep_armed_ = false;                                 // guarded by mu_
  std::shared_ptr<SweepGuard> sweep_guard_;
  bool stopping_ = false;                                    // guarded by mu_
  std::weak_ptr<void> owner_;
  http::RateLimiter new_rooms_;  // max_new_rooms_per_address, per minute
};

}  // namespace blobsync::sync
