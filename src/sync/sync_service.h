// SyncService: the WebSocket sync endpoint of `blobsync serve`. Rooms at
// /sync/<room> speak the y-websocket protocol plus the blob channel
// (docs/protocol.md), persist to meta.db, and keep this server's entries in
// every room's _blobRegistry right.
//
//   auto sync = sync::SyncService::create(sync_config, *service->store);
//   sync.value()->attach(server);     // before server.run()
//   server.run();                     // SIGINT/SIGTERM also stop the sync service
//   sync.value()->stop();             // with any programmatic Server::stop()
//
// create() re-announces at start: for every room where this server announced
// blobs, the registry is reconciled with what the store holds (blobs deleted
// while the server was down are withdrawn, lost entries restored).
//
// Lifetime: the BlobStore must outlive the SyncService and every connection
// (i.e. the http::Server). The SyncService may be destroyed before or after
// the http::Server.
//
// Thread safety: attach() before the server runs; everything else may be
// called from any thread.
#pragma once

#include <cstdint>
#include <memory>

#include "core/digest.h"
#include "core/error.h"
#include "sync/sync_config.h"

namespace blobsync {
class BlobStore;
namespace http {
class Server;
}
}  // namespace blobsync

namespace blobsync::sync {

class SyncService {
 public:
  // Opens DATA/meta.db (sync tables), the staging directory, and reconciles
  // the registry of every room with announcements. Errors: database or
  // directory failures.
  static Result<std::unique_ptr<SyncService>> create(const SyncConfig& config, BlobStore& store);
  ~SyncService();  // stop(), then waits until everything queued is durable
  SyncService(const SyncService&) = delete;
  SyncService& operator=(const SyncService&) = delete;

  // Serves WebSocket upgrades under "/sync/". REQUIRES: before server.run().
  void attach(http::Server& server);

  // Closes every connection (1001) and persists every room; returns at once
  // (safe on an I/O thread). New connections are refused afterwards.
  void stop();

  // Tell the service a blob left the store (GC, admin delete): this server
  // withdraws from the blob's entry in every room it announced it in.
  // Asynchronous; safe from any thread.
  void blob_removed(const Digest& hash);

  struct Stats {
    std::size_t connections = 0;
    std::size_t rooms_loaded = 0;
    std::uint64_t commits = 0, updates_persisted = 0;
  };
  Stats stats() const;

 private:
  struct State;
  explicit SyncService(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace blobsync::sync
