// Mesh: the leaderless server mesh (docs/architecture.md, "Topology,
// replication and failure handling"). Every server links every room it hosts
// to every peer, replicates the blobs listed in those rooms' registries, and
// keeps the registries' holder lists true.
//
//   Rooms hosted:  the union of the rooms of all servers. Every server writes
//                  the names of the rooms it has loaded into the system room
//                  `_mesh` (Y.Map "rooms": name -> true), which is itself
//                  linked to every peer, so the directory spreads like any
//                  document, transitively, and survives restarts.
//   Per room:      a LocalReplica (reads _blobRegistry, writes pruning) and a
//                  PeerLink to each peer (relays Yjs both ways).
//   Blobs:         Replicator; `all` fetches every listed blob this server
//                  lacks, `on-demand` only what clients ask for
//                  (fetch_for_client, the blob channel's replicate-on-fetch
//                  hook). Held but unlisted blobs are announced.
//   Holders:       HolderHealth + plan_prunes (the pruning rule).
//   Shutdown:      drain() withdraws this server from every registry entry
//                  and waits (bounded) until each peer confirmed it has the
//                  change durably (PeerLink::flush); then the owner stops the
//                  SyncEndpoint and the mesh.
//
// Usage (see src/cli/sync_commands.cpp):
//   auto sync = SyncEndpoint::create(sync_config, store);
//   auto mesh = Mesh::create(mesh_config, **sync, store);   // before attach
//   (*sync)->attach(server);
//   (*mesh)->start();
//   server.run();      // SIGTERM: mesh drain -> sync stop -> run() returns
//   (*mesh)->stop();   // then destroy the mesh, then the SyncEndpoint
//
// The mesh runs its own I/O threads and the rooms run on them too
// (SyncEndpoint::use_io_context), so rooms can load and link before any
// client connects.
//
// Thread safety: every public method may be called from any thread, except
// stop() and the destructor, which must not run on a mesh thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/digest.h"
#include "core/error.h"
#include "mesh/mesh_config.h"
#include "mesh/mesh_report.h"
#include "sync/access.h"

namespace blobsync {
class BlobStore;
}

namespace blobsync::sync {
class SyncEndpoint;
}

namespace blobsync::mesh {

// The system room holding the room directory; the sync layer opens it to
// peer tokens only (sync/access.h).
inline constexpr const auto& kDirectoryRoom = sync::kMeshRoom;
inline constexpr char kDirectoryMap[] = "rooms";

class Mesh {
 public:
  // Hooks itself into `sync` (SyncEndpoint::use_io_context, set_before_stop,
  // set_fetch_missing), so call it before sync.attach(). Errors:
  // kInvalidArgument (a peer URL that does not parse), directory creation
  // failures. REQUIRES: sync and blobs outlive the Mesh.
  static Result<std::unique_ptr<Mesh>> create(MeshConfig config, sync::SyncEndpoint& sync, BlobStore& blobs);
  ~Mesh();  // stop()
  Mesh(const Mesh&) = delete;
  Mesh& operator=(const Mesh&) = delete;

  // Starts the I/O threads, loads the directory and links every room.
  void start();

  // Replicate-on-fetch: a client asked this server for `hash` in `room` and
  // the store lacks it. Fetches it from another holder listed in the room's
  // registry; done (on a mesh thread) once stored, or with kNotFound when no
  // other holder is listed, or the last holder's error. Honours
  // MeshConfig::replicate_on_fetch (kNotFound at once when off).
  void fetch_for_client(const std::string& room, const Digest& hash, std::function<void(Result<>)> done);

  // The store quarantined `hash` (its bytes failed a re-hash): fetch a
  // verified copy from the peers that hold it and stop listing this server
  // meanwhile (mesh/heal.h). Returns at once; the replicator does the
  // fetch and announces this server again once the copy is stored.
  void heal(const Digest& hash);

  // Clean shutdown, first half: stop replicating, withdraw this server from
  // every registry entry, wait until every connected peer confirmed it
  // (at most MeshConfig::shutdown_flush_timeout). done runs on a mesh
  // thread; links stay up until stop().
  void drain(std::function<void()> done);
  // Closes every link and replica, releases the rooms and joins the threads.
  void stop();

  MeshReport report() const;
  const MeshConfig& config() const;

  struct Impl;

 private:
  explicit Mesh(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace blobsync::mesh
