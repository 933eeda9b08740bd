// SyncEndpoint: the WebSocket sync endpoint of `blobsync serve`. Rooms at
// /sync/<room> speak the y-websocket protocol plus the blob channel
// (docs/protocol.md), persist to meta.db, and keep this server's entries in
// every room's _blobRegistry right.
//
//   auto sync = sync::SyncEndpoint::create(sync_config, *service->store);
//   sync.value()->attach(server);     // before server.run()
//   server.run();                     // SIGINT/SIGTERM also stop the sync service
//   sync.value()->stop();             // with any programmatic Server::stop()
//
// create() re-announces at start: for every room where this server announced
// blobs, the registry is reconciled with what the store holds (blobs deleted
// while the server was down are withdrawn, lost entries restored).
//
// Lifetime: the BlobStore must outlive the SyncEndpoint and every connection
// (i.e. the http::Server). The SyncEndpoint may be destroyed before or after
// the http::Server.
//
// Thread safety: attach() before the server runs; everything else may be
// called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "store/fwd.h"
#include "sync/sync_config.h"

namespace boost::asio {
class io_context;
}

namespace blobsync::http {
class Server;
}

namespace blobsync::sync {

class RoomManager;
class TokenQuotas;

class SyncEndpoint {
 public:
  // Opens DATA/meta.db (sync tables), the staging directory, and reconciles
  // the registry of every room with announcements. Errors: database or
  // directory failures.
  // `lifecycle` (may be null): registry entries become holds on their blobs
  // (room_holds.h); it must outlive the service.
  static Result<std::unique_ptr<SyncEndpoint>> create(const SyncConfig& config, BlobStore& store,
                                                     BlobLifecycle* lifecycle = nullptr);
  ~SyncEndpoint();  // stop(), then waits until everything queued is durable
  SyncEndpoint(const SyncEndpoint&) = delete;
  SyncEndpoint& operator=(const SyncEndpoint&) = delete;

  // Serves WebSocket upgrades under "/sync/". REQUIRES: before server.run().
  // Rooms run on the server's io_context (its I/O threads) unless
  // use_io_context() came first: a connection's message then reaches its room
  // on the connection's own thread, with no hop (blobsync serve attaches
  // before it makes the mesh).
  void attach(http::Server& server);

  // ---- Hooks for the server mesh (mesh/mesh.h).
  // Rooms run on `ioc` from now on, if neither attach() nor an earlier call
  // chose an io_context (so rooms can load before any client connects), and
  // SIGINT/SIGTERM are handled there. The chosen io_context must outlive
  // stop() (which the destructor calls if nobody did).
  void use_io_context(boost::asio::io_context& ioc);
  // On SIGINT/SIGTERM, calls hook(stop) instead of stopping at once; the hook
  // must call stop() when done (the mesh first withdraws from registries).
  void set_before_stop(std::function<void(std::function<void()> stop)> hook);
  // Replicate on fetch: a REQUEST for a blob the store lacks, from a client
  // (not another server), calls fn(room, hash, done) and is served if done
  // reports success; NOT_FOUND otherwise.
  using FetchMissing =
      std::function<void(const std::string& room, const Digest& hash, std::function<void(Result<>)> done)>;
  void set_fetch_missing(FetchMissing fn);
  RoomManager& rooms();
  const SyncConfig& config() const;
  // Room tokens' storage quotas (token_quota.h), shared by every path that
  // writes with a room token.
  TokenQuotas& quotas();
  // Every room ever created here (from meta.db).
  Result<std::vector<std::string>> stored_rooms();

  // Closes every connection (1001) and persists every room; returns at once
  // (safe on an I/O thread). New connections are refused afterwards.
  void stop();

  // Tell the service a blob left the store (GC, admin delete): this server
  // withdraws from the blob's entry in every room it announced it in.
  // Asynchronous; safe from any thread.
  void blob_removed(const Digest& hash);
  // The sweeper's withdrawal (BlobLifecycle::Withdraw): the same, but
  // returns only once every room's change is durable, or an error (a room
  // failed, or `timeout` passed). Blocks: never call on an I/O thread.
  Result<> withdraw_blob(const Digest& hash, std::chrono::milliseconds timeout);

  struct Stats {
    std::size_t connections = 0;
    std::size_t rooms_loaded = 0;  // active + parked
    std::uint64_t commits = 0, updates_persisted = 0;
    std::size_t rooms_parked = 0;
    std::uint64_t parks = 0, unparks = 0;  // since start
    std::uint64_t quarantined = 0;         // stored updates kept aside at load, since start
  };
  Stats stats() const;
  // Prometheus lines for /metrics: blobsync_sync_rooms_loaded,
  // blobsync_sync_rooms_parked, blobsync_sync_room_parks_total,
  // blobsync_sync_room_unparks_total, blobsync_sync_updates_quarantined_total.
  std::string render_metrics() const;

 private:
  struct State;
  explicit SyncEndpoint(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace blobsync::sync
