// sync_devserver: a test-only server with just the sync endpoint: http::Server
// + SyncService over a BlobStore in --data, and with --mesh (or any --peer)
// the server mesh too, plus GET /peers, GET /metrics (mesh lines) and
// DELETE /blobs/<hash> (a test-only admin delete). Prints "listening on
// HOST:PORT" like `blobsync serve`, so the interop tests can run against
// either (BLOBSYNC_SYNC_BIN, BLOBSYNC_MESH_BIN).
//
// SIGTERM/SIGINT with the mesh: it drains (withdraws this server from the
// registries, waits, bounded, for peers to confirm), then the sync service
// stops and the HTTP server's run() returns.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "core/blob_id.h"
#include "http/access_log.h"
#include "http/config.h"
#include "http/http_types.h"
#include "http/metrics.h"
#include "http/router.h"
#include "http/server.h"
#include "store/blob_store.h"
#include "sync/mesh/mesh.h"
#include "sync/sync_service.h"

using namespace blobsync;

namespace {

struct MeshFlags {
  bool enabled = false;
  std::vector<std::string> peers;
  std::string peer_token, replication = "all";
  std::uint64_t backoff_max_ms = 30'000, prune_after_ms = 24ull * 3600 * 1000, probe_ms = 600'000;
  std::uint64_t rescan_ms = 10'000, flush_ms = 5'000, blob_backoff_ms = 1'000;
  unsigned max_fetches = 8;
  bool no_replicate_on_fetch = false;

  void add(CLI::App& app) {
    app.add_flag("--mesh", enabled, "run the server mesh (implied by --peer)");
    app.add_option("--peer", peers, "a peer's sync URL ws://host:port/sync (repeatable)");
    app.add_option("--peer-token", peer_token, "token presented to peers");
    app.add_option("--replication", replication, "all | on-demand");
    app.add_flag("--no-replicate-on-fetch", no_replicate_on_fetch, "answer NOT_FOUND for blobs this server lacks");
    app.add_option("--max-fetches", max_fetches, "blobs replicated at once");
    app.add_option("--link-backoff-max-ms", backoff_max_ms, "cap of the peer reconnect backoff");
    app.add_option("--blob-backoff-ms", blob_backoff_ms, "first retry delay of a blob that failed everywhere");
    app.add_option("--prune-after-ms", prune_after_ms, "prune holders unreachable this long (0: never)");
    app.add_option("--probe-interval-ms", probe_ms, "how often holders are probed and pruned");
    app.add_option("--rescan-ms", rescan_ms, "how often registries are re-scanned");
    app.add_option("--shutdown-flush-ms", flush_ms, "how long shutdown waits for peers to confirm");
  }

  Result<sync::mesh::MeshConfig> config() const {
    auto mode = sync::mesh::parse_replication(replication);
    if (!mode) return std::unexpected(mode.error());
    sync::mesh::MeshConfig mc;
    mc.peers = peers;
    mc.peer_token = peer_token;
    mc.replication = *mode;
    mc.replicate_on_fetch = !no_replicate_on_fetch;
    mc.max_fetches = max_fetches;
    mc.link_backoff_max = std::chrono::milliseconds(backoff_max_ms);
    mc.blob_backoff_initial = std::chrono::milliseconds(blob_backoff_ms);
    mc.prune_after = std::chrono::milliseconds(prune_after_ms);
    mc.probe_interval = std::chrono::milliseconds(probe_ms);
    mc.rescan_interval = std::chrono::milliseconds(rescan_ms);
    mc.shutdown_flush_timeout = std::chrono::milliseconds(flush_ms);
    return mc;
  }
};

// GET /peers, GET /metrics and the test-only DELETE /blobs/<hash>.
void add_mesh_routes(http::Router& router, sync::mesh::Mesh& mesh, BlobStore& store, sync::SyncService& sync) {
  http::Route peers;
  peers.name = "peers";
  peers.handler = [&mesh](http::Request&) { return http::json_response(sync::mesh::render_peers_json(mesh.report())); };
  router.add("GET", "/peers", std::move(peers));
  http::Route metrics;
  metrics.name = "metrics";
  metrics.handler = [&mesh](http::Request&) {
    http::Response r;
    r.set("content-type", "text/plain; version=0.0.4");
    r.body = sync::mesh::render_mesh_metrics(mesh.report());
    return r;
  };
  router.add("GET", "/metrics", std::move(metrics));
  // The blob leaves the store and this server withdraws from it in every
  // room (SyncService::blob_removed), as GC does.
  http::Route del;
  del.name = "blobs.delete";
  del.blocking = true;
  del.handler = [&store, &sync](http::Request& req) {
    auto hash = parse_blob_id(std::string_view(req.path).substr(std::string_view("/blobs/").size()));
    if (!hash) return http::xrpc_error(400, "InvalidRequest", hash.error().message);
    if (auto r = store.remove(*hash); !r) return http::xrpc_error(404, "BlobNotFound", r.error().message);
    sync.blob_removed(*hash);
    return http::json_response("{}");
  };
  router.add_prefix("DELETE", "/blobs/", std::move(del));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("sync_devserver: the /sync/<room> endpoint (and optionally the mesh) alone, for tests");
  std::string listen = "127.0.0.1:0", data = "data", url, log_level = "warn";
  std::vector<std::string> tokens, ro_tokens;
  std::uint64_t idle_ms = 60'000, max_blob = 100ull << 20, compact_updates = 1000;
  unsigned threads = 2;
  bool no_fsync = false;
  MeshFlags mesh_flags;
  app.add_option("--listen", listen, "HOST:PORT (port 0: any)");
  app.add_option("--data", data, "data directory");
  app.add_option("--url", url, "public sync URL (default ws://HOST:PORT/sync)");
  app.add_option("--token", tokens, "read-write token (repeatable)");
  app.add_option("--read-only-token", ro_tokens, "read-only token (repeatable)");
  app.add_option("--room-idle-ms", idle_ms, "unload rooms idle this long");
  app.add_option("--max-blob-bytes", max_blob, "largest blob-channel upload");
  app.add_option("--compact-updates", compact_updates, "fold the log into a snapshot past this many updates");
  app.add_option("--threads", threads, "I/O threads");
  app.add_flag("--no-fsync", no_fsync, "synchronous=NORMAL instead of FULL");
  app.add_option("--log-level", log_level, "spdlog level");
  mesh_flags.add(app);
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));

  auto hp = http::parse_listen(listen);
  if (!hp) {
    std::cerr << hp.error().to_string() << "\n";
    return 2;
  }
  auto mesh_config = mesh_flags.config();
  if (!mesh_config) {
    std::cerr << mesh_config.error().to_string() << "\n";
    return 2;
  }
  http::ServerConfig config;
  config.data_dir = data;
  config.listen_host = hp->first;
  config.listen_port = hp->second;
  config.threads = threads;

  StoreOptions so;
  so.data_dir = data;
  auto store = BlobStore::open(so);
  if (!store) {
    std::cerr << store.error().to_string() << "\n";
    return 1;
  }
  http::Router router;
  http::Metrics metrics;
  auto log = http::AccessLog::open("off");
  if (!log) return 1;
  http::Server server(config, router, metrics, **log);
  auto bound = server.listen();
  if (!bound) {
    std::cerr << bound.error().to_string() << "\n";
    return 1;
  }

  sync::SyncConfig sc;
  sc.data_dir = data;
  sc.url = url.empty() ? "ws://" + *bound + "/sync" : url;
  sc.tokens = tokens;
  sc.read_only_tokens = ro_tokens;
  sc.room_idle_timeout = std::chrono::milliseconds(idle_ms);
  sc.max_blob_bytes = max_blob;
  sc.compact_updates = compact_updates;
  sc.fsync = !no_fsync;
  auto sync = sync::SyncService::create(sc, **store);
  if (!sync) {
    std::cerr << sync.error().to_string() << "\n";
    return 1;
  }
  std::unique_ptr<sync::mesh::Mesh> mesh;
  if (mesh_flags.enabled || !mesh_flags.peers.empty()) {
    auto m = sync::mesh::Mesh::create(*mesh_config, **sync, **store);  // before attach
    if (!m) {
      std::cerr << m.error().to_string() << "\n";
      return 1;
    }
    mesh = std::move(*m);
    add_mesh_routes(router, *mesh, **store, **sync);
  }
  (*sync)->attach(server);
  if (mesh) mesh->start();
  std::printf("listening on %s\n", bound->c_str());
  std::fflush(stdout);
  auto r = server.run();
  (*sync)->stop();
  if (mesh) mesh->stop();
  mesh.reset();
  sync->reset();
  return r ? 0 : 1;
}
