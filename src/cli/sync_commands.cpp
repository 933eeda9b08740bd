#include "cli/sync_commands.h"

#include <curl/curl.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "cli/cli_context.h"
#include "core/blob_id.h"
#include "http/config.h"
#include "http/xrpc_error.h"
#include "http/json_util.h"
#include "http/router.h"
#include "http/run.h"
#include "http/server.h"
#include "http/api.h"
#include "store/blob_store.h"
#include "store/blob_lifecycle.h"
#include "mesh/mesh.h"
#include "mesh/mesh_report.h"
#include "sync/sync_endpoint.h"

namespace blobsync {

namespace {

sync::SyncConfig sync_config(const http::ServerConfig& c, const std::string& bound) {
  sync::SyncConfig sc;
  sc.data_dir = c.data_dir;
  sc.url = c.url.empty() ? "ws://" + bound + "/sync" : c.url;
  sc.tokens = c.sync_tokens;
  sc.peer_token = c.peer_token;
  sc.read_only_tokens = c.sync_read_only_tokens;
  sc.room_idle_timeout = c.room_idle_timeout;
  sc.fsync = c.sync_fsync;
  sc.max_blob_bytes = c.max_upload_bytes;
  sc.allowed_mime = c.allowed_mime;
  // A clean shutdown takes this server out of the registries (issue 6); the
  // mesh drains that change to the peers before the process exits.
  sc.withdraw_on_shutdown = !c.peers.empty();
  sc.compact_updates = c.sync_compact_updates;
  // Resource limits (docs/security.md, "Limits").
  sc.max_message_bytes = c.max_frame_bytes;
  sc.max_queued_bytes = c.max_queued_bytes_per_connection;
  sc.max_uploads = c.max_uploads;
  sc.max_uploads_per_connection = c.max_uploads_per_connection;
  sc.upload_idle_timeout = c.upload_idle_timeout;
  sc.max_staging_bytes = c.max_staging_bytes;
  return sc;
}

// Rooms and mesh live from the extension call until the server stopped.
struct SyncParts {
  std::unique_ptr<sync::SyncEndpoint> sync;
  std::unique_ptr<mesh::Mesh> mesh;
};

Result<http::ExtensionHandle> attach_sync(http::Server& server, http::Router& router, http::Api& api,
                                          const http::ServerConfig& config, const std::string& bound) {
  auto parts = std::make_shared<SyncParts>();
  auto sync = sync::SyncEndpoint::create(sync_config(config, bound), *api.store, api.lifecycle.get());
  if (!sync) return std::unexpected(sync.error());
  parts->sync = std::move(*sync);
  // The sweeper takes this server out of every registry that lists a blob
  // before the blob goes (store/blob_lifecycle.h, step 2).
  api.lifecycle->set_withdraw([s = parts->sync.get()](const Digest& hash) {
    return s->withdraw_blob(hash, std::chrono::seconds(30));
  });

  mesh::MeshConfig mc;
  mc.peers = config.peers;
  auto mode = mesh::parse_replication(config.replication);
  if (!mode) return std::unexpected(mode.error());
  mc.replication = *mode;
  mc.peer_token = config.peer_token;
  mc.mesh_allow = config.mesh_allow;
  mc.replicate_on_fetch = config.replicate_on_fetch;
  mc.max_fetches = config.mesh_max_fetches;
  mc.link_backoff_max = config.mesh_link_backoff_max;
  mc.prune_after = config.mesh_prune_after;
  mc.probe_interval = config.mesh_probe_interval;
  mc.rescan_interval = config.mesh_rescan_interval;
  mc.shutdown_flush_timeout = config.mesh_shutdown_flush;
  auto mesh = mesh::Mesh::create(mc, *parts->sync, *api.store);
  if (!mesh) return std::unexpected(mesh.error());
  parts->mesh = std::move(*mesh);

  auto* m = parts->mesh.get();
  http::Route peers_route;
  peers_route.name = "peers";
  peers_route.handler = [m](http::Request&) { return http::json_response(mesh::render_peers_json(m->report())); };
  router.add("GET", "/peers", std::move(peers_route));
  api.metrics.add_source([m] { return mesh::render_mesh_metrics(m->report()); });
  api.metrics.add_source([s = parts->sync.get()] { return s->render_metrics(); });

  // Admin delete: the blob leaves the store and this server withdraws from it
  // in every room (as GC does). Only with admin_token configured.
  if (!config.admin_token.empty()) {
    http::Route del;
    del.name = "blobs.delete";
    del.blocking = true;
    del.handler = [&api, s = parts->sync.get(), token = config.admin_token](http::Request& req) {
      auto auth = req.header("authorization");
      if (!auth || *auth != "Bearer " + token)
        return http::xrpc_error(401, "AuthenticationRequired", "DELETE /blobs/<hash> needs the admin token");
      auto hash = parse_blob_id_or_hex(std::string_view(req.path).substr(std::string_view("/blobs/").size()));
      if (!hash) return http::xrpc_error(400, "InvalidRequest", hash.error().message);
      if (auto r = api.store->remove(*hash); !r) return http::xrpc_error(404, "BlobNotFound", r.error().message);
      s->blob_removed(*hash);
      return http::json_response("{}");
    };
    router.add_prefix("DELETE", "/blobs/", std::move(del));
  }

  parts->sync->attach(server);
  parts->mesh->start();
  http::ExtensionHandle handle;
  handle.heal = [m](const Digest& hash) { m->heal(hash); };  // the scrubber stops before after_stop
  handle.after_stop = [parts] {
    parts->sync->stop();
    parts->mesh->stop();
    parts->mesh.reset();
    parts->sync.reset();
  };
  return handle;
}

std::size_t append(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

void run_peers(CliContext& ctx, const std::string& server) {
  std::string url = server;
  if (url.starts_with("ws://")) url = "http://" + url.substr(5);
  if (auto pos = url.find("/sync"); pos != std::string::npos) url.resize(pos);
  while (url.ends_with("/")) url.pop_back();
  url += "/peers";
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  std::string body;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 10L);
  CURLcode rc = curl_easy_perform(curl.get());
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK) return ctx.fail_with(fmt::format("cannot reach {}: {}", url, curl_easy_strerror(rc)));
  if (status != 200) return ctx.fail_with(fmt::format("{} answered {}: {}", url, status, body));
  std::printf("%s\n", body.c_str());
}

}  // namespace

void add_sync_commands(CLI::App& app, CliContext& ctx) {
  http::add_serve_extension(attach_sync);
  auto* cmd = app.add_subcommand("peers", "Show a running server's mesh: each peer's state, rooms synced, blobs pending and failed");
  auto server = std::make_shared<std::string>("http://127.0.0.1:3913");
  cmd->add_option("--server", *server, "The server's HTTP or sync URL (default http://127.0.0.1:3913)");
  cmd->callback([&ctx, server] { run_peers(ctx, *server); });
}

}  // namespace blobsync
