// Mesh::Impl: the mesh's state and the strand-side work behind Mesh
// (mesh.h). Private to the mesh*.cpp files, which each define one concern's
// methods: mesh.cpp (create, the public API, drain and stop), mesh_rooms.cpp
// (room directory and per-room links), mesh_scan.cpp (registry scan ->
// announce/fetch), mesh_prune.cpp (probing and pruning), mesh_fetch.cpp
// (replicate on fetch and heal).
//
// Thread safety: members marked "strand only" are touched on `strand` only;
// all_links and hosted under report_mu; the rest is set up by create().
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "store/blob_store.h"
#include "mesh/dial_policy.h"
#include "mesh/heal.h"
#include "mesh/holder_health.h"
#include "mesh/local_replica.h"
#include "mesh/mesh.h"
#include "mesh/peer_link.h"
#include "mesh/replicator.h"
#include "mesh/scan_plan.h"
#include "protocol/registry.h"
#include "sync/room.h"
#include "sync/room_manager.h"
#include "sync/sync_config.h"

namespace blobsync::mesh {

namespace asio = boost::asio;

// What the mesh uses of the sync endpoint.
struct MeshDeps {
  sync::RoomManager& rooms;
  BlobStore& blobs;
  const sync::SyncConfig& sync;  // url (identity), tokens, max_blob_bytes, data_dir
};

struct Mesh::Impl : std::enable_shared_from_this<Mesh::Impl> {
  Impl(MeshConfig c, MeshDeps h)
      : config(std::move(c)),
        deps(h),
        self(deps.sync.url),
        pool(std::max({1u, config.threads, config.max_fetches})),  // finishing ingests wait on fsync: one thread each
        work(asio::make_work_guard(ioc)),
        strand(asio::make_strand(ioc)),
        tick_timer(strand) {}

  struct RoomState {
    std::shared_ptr<sync::Room> room;
    std::shared_ptr<LocalReplica> replica;
    std::vector<std::shared_ptr<PeerLink>> links;
    // Registry scans: one at a time; what changes meanwhile waits for the next.
    bool scanning = false, full_pending = false;
    std::set<std::string> dirty;  // registry keys changed since the running scan began
  };

  MeshConfig config;
  MeshDeps deps;
  std::string self;
  std::shared_ptr<const DialPolicy> policy;  // set by create(); peers, mesh_allow, peer_token
  std::shared_ptr<client::TlsContext> tls;   // set by create(); every wss:// connection's trust
  std::uint64_t replicate_max = 0;

  asio::io_context ioc;
  asio::thread_pool pool;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::vector<std::thread> threads;
  asio::strand<asio::io_context::executor_type> strand;
  asio::steady_timer tick_timer;
  HolderHealth health;
  std::shared_ptr<Replicator> replicator;

  // Strand only.
  std::map<std::string, RoomState> rooms;
  std::set<std::string> directory;  // room names listed in _mesh
  std::set<std::string> stored;     // rooms in this server's meta.db at start
  bool draining = false, stopped = false;
  Clock::time_point last_rescan{}, last_prune = Clock::now();

  std::atomic<std::uint64_t> pruned{0};
  mutable std::mutex report_mu;
  std::vector<std::shared_ptr<PeerLink>> all_links;  // guarded by report_mu
  std::size_t hosted = 0;                            // guarded by report_mu

  void run_blocking(std::function<void()> fn) { asio::post(pool, std::move(fn)); }
  bool holds(const Digest& h) {
    auto r = deps.blobs.contains(h);
    return r && *r;
  }

  // mesh_rooms.cpp: the room directory and each room's replica and links.
  void tick();
  void add_to_directory(std::vector<std::string> names);
  void ensure_room(const std::string& name);
  void teardown(const std::string& name);

  // mesh_scan.cpp: registry scans -> announce / fetch.
  void scan(const std::string& name, std::optional<std::set<std::string>> keys);
  void act(const std::string& name, const ScanPlan& plan);
  void announce(const std::string& room, const sync::AnnouncedBlob& blob);

  // mesh_prune.cpp: probing mesh_allow holders and pruning stale ones.
  void prune(const std::string& name);
  void probe(const std::string& url, const std::string& room);

  // mesh_fetch.cpp: fetches asked for now (replicate on fetch, heal).
  void fetch_for_client(const std::string& room, const Digest& hash, std::function<void(Result<>)> done);
  void heal(const Digest& hash);
  void heal_from(const Digest& hash, const RoomEntries& entries);

  // mesh.cpp: shutdown.
  void drain(std::function<void()> done);
  void stop_on_strand();
};

}  // namespace blobsync::mesh
