#include "cli/sync_commands.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/cli_context.h"
#include "core/blob_id.h"
#include "http/admin_auth.h"
#include "http/config.h"
#include "http/secret_file.h"
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
#include "core/secret_compare.h"
#include "sync/http_room_writer.h"
#include "sync/sync_endpoint.h"

namespace blobsync {

namespace {

Result<sync::SyncConfig> sync_config(const http::ServerConfig& c, const std::string& bound) {
  sync::SyncConfig sc;
  sc.data_dir = c.data_dir;
  sc.url = http::sync_url(c, bound);
  sc.tokens = c.sync_tokens;
  sc.read_only_tokens = c.sync_read_only_tokens;
  sc.require_token = http::sync_token_required(c);
  auto secret = http::load_room_token_secret(c, true);
  if (!secret) return std::unexpected(secret.error());
  sc.room_token_secret = std::move(*secret);
  sc.tokens_not_before = c.tokens_not_before;
  sc.room_token_quota = c.room_token_quota;
  sc.peer_token = c.peer_token;
  sc.peer_tokens = c.peer_tokens;
  sc.room_idle_timeout = c.room_idle_timeout;
  sc.ws_idle_timeout = c.ws_idle_timeout;
  sc.fsync = c.sync_fsync;
  sc.max_blob_bytes = c.max_upload_bytes;
  sc.allowed_mime = c.allowed_mime;
  // A clean shutdown takes this server out of the registries (issue 6); the
  // mesh drains that change to the peers before the process exits.
  sc.withdraw_on_shutdown = !c.peers.empty();
  sc.compact_updates = c.sync_compact_updates;
  sc.doc_limits = {c.sync_max_pending_structs, c.sync_max_pending_bytes, c.sync_max_doc_bytes, c.sync_max_awareness_bytes};
  // Resource limits (docs/security.md, "Limits").
  sc.max_rooms = c.sync_max_rooms;
  sc.max_new_rooms_per_address = static_cast<std::uint32_t>(c.sync_max_new_rooms_per_address);
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
  auto sc = sync_config(config, bound);
  if (!sc) return std::unexpected(sc.error());
  // One key for both would let whoever mints room tokens (an app's backend)
  // mint ATProto sessions for any account: compared as loaded, whichever
  // came from the config and whichever from the data directory.
  if (secrets_equal({reinterpret_cast<const char*>(sc->room_token_secret.data()), sc->room_token_secret.size()},
                    {reinterpret_cast<const char*>(api.jwt_secret.data()), api.jwt_secret.size()}))
    return fail(Errc::kInvalidArgument, "the room-token key and the JWT key are the same: give room_token_secret a key of its own");
  auto sync = sync::SyncEndpoint::create(std::move(*sc), *api.store, api.lifecycle.get());
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
  mc.tls = {.ca_file = config.tls_ca_file, .insecure = config.tls_insecure};
  mc.replicate_on_fetch = config.replicate_on_fetch;
  mc.max_fetches = config.mesh_max_fetches;
  mc.link_backoff_max = config.mesh_link_backoff_max;
  mc.prune_after = config.mesh_prune_after;
  mc.probe_interval = config.mesh_probe_interval;
  mc.rescan_interval = config.mesh_rescan_interval;
  mc.shutdown_flush_timeout = config.mesh_shutdown_flush;
  // Before the mesh: rooms then run on the server's I/O threads, where their
  // connections read, not on the mesh's (sync_endpoint.h).
  parts->sync->attach(server);
  auto mesh = mesh::Mesh::create(mc, *parts->sync, *api.store);
  if (!mesh) return std::unexpected(mesh.error());
  parts->mesh = std::move(*mesh);

  auto* m = parts->mesh.get();
  http::Route peers_route;
  peers_route.name = "peers";
  peers_route.handler = [m, token = config.admin_token, loopback = config.admin_loopback](http::Request& req) {
    if (auto no = http::refuse_admin(req, token, loopback)) return std::move(*no);
    return http::json_response(mesh::render_peers_json(m->report()));
  };
  router.add("GET", "/peers", std::move(peers_route));
  // The page's status (docs/http.md, "The web page"): counts only, so public;
  // the names of rooms and peers stay behind the admin rule of /peers.
  http::Route status_route;
  status_route.name = "status";
  status_route.handler = [&api, m, s = parts->sync.get()](http::Request&) {
    auto st = api.store->stats();
    if (!st) return http::to_response(http::to_xrpc(st.error()));
    auto mesh_now = m->report();
    std::size_t connected = 0;
    for (const auto& p : mesh_now.peers) connected += p.rooms_up > 0 ? 1 : 0;
    return http::json_response(fmt::format(
        R"({{"version":{},"rooms":{},"blobs":{},"bytes":{},"peers":{},"peersConnected":{}}})",
        http::json_quote(BLOBSYNC_VERSION), s->stats().rooms_loaded, st->blob_count, st->total_bytes,
        mesh_now.peers.size(), connected));
  };
  router.add("GET", "/status", std::move(status_route));
  api.metrics.add_source([m] { return mesh::render_mesh_metrics(m->report()); });
  api.metrics.add_source([s = parts->sync.get()] { return s->render_metrics(); });

  // Admin delete: the blob leaves the store and this server withdraws from it
  // in every room (as GC does). Only with admin_token configured.
  if (!config.admin_token.empty()) {
    http::Route del;
    del.name = "blobs.delete";
    del.blocking = true;
    del.handler = [&api, s = parts->sync.get(), token = config.admin_token](http::Request& req) {
      if (!http::has_admin_token(req, token))
        return http::xrpc_error(401, "AuthenticationRequired", "DELETE /blobs/<hash> needs the admin token");
      auto hash = parse_blob_id_or_hex(std::string_view(req.path).substr(std::string_view("/blobs/").size()));
      if (!hash) return http::xrpc_error(400, "InvalidRequest", hash.error().message);
      if (auto r = api.store->remove(*hash); !r) return http::xrpc_error(404, "BlobNotFound", r.error().message);
      s->blob_removed(*hash);
      // Its bytes no longer count against the quota of the accounts that claimed it.
      if (auto r = api.repo->forget_blob(*hash); !r)
        spdlog::warn("DELETE /blobs: dropping the claims on {} failed: {}", hash->hex(), r.error().message);
      return http::json_response("{}");
    };
    router.add_prefix("DELETE", "/blobs/", std::move(del));
  }

  // PUT /blobs/<hash>?room=R announces through the rooms (http/room_announcer.h).
  api.rooms = sync::make_http_room_announcer(*parts->sync);
  parts->mesh->start();
  http::ExtensionHandle handle;
  handle.heal = [m](const Digest& hash) { m->heal(hash); };  // the scrubber stops before after_stop
  handle.after_stop = [parts, &api] {
    api.rooms.reset();
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

struct PeersOptions {
  std::string server = "http://127.0.0.1:3913";
  std::string admin_token;
  std::string ca_file;
  bool insecure = false;
};

void run_peers(CliContext& ctx, const PeersOptions& o) {
  std::string url = o.server;
  // A sync URL names the same server's HTTP side: ws -> http, wss -> https.
  if (url.starts_with("ws://")) url = "http://" + url.substr(5);
  else if (url.starts_with("wss://")) url = "https://" + url.substr(6);
  if (!url.starts_with("http://") && !url.starts_with("https://"))
    return ctx.fail_with(fmt::format("--server '{}' must be an http(s):// or ws(s):// URL", o.server), kExitUsage);
  warn_if_insecure(o.insecure);
  if (auto pos = url.find("/sync"); pos != std::string::npos) url.resize(pos);
  while (url.ends_with("/")) url.pop_back();
  url += "/peers";
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  std::string body;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  char error[CURL_ERROR_SIZE] = "";  // says why a certificate failed; curl_easy_strerror does not
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl.get(), CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (!o.ca_file.empty()) curl_easy_setopt(curl.get(), CURLOPT_CAINFO, o.ca_file.c_str());
  if (o.insecure) {
    curl_easy_setopt(curl.get(), CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl.get(), CURLOPT_SSL_VERIFYHOST, 0L);
  }
  // Needed from other than loopback (http/admin_auth.h).
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr, curl_slist_free_all);
  if (!o.admin_token.empty()) {
    headers.reset(curl_slist_append(nullptr, ("Authorization: Bearer " + o.admin_token).c_str()));
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  }
  CURLcode rc = curl_easy_perform(curl.get());
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK)
    return ctx.fail_with(fmt::format("cannot reach {}: {}", url, *error ? error : curl_easy_strerror(rc)));
  if (status != 200) return ctx.fail_with(fmt::format("{} answered {}: {}", url, status, body));
  std::printf("%s\n", body.c_str());
}

}  // namespace

void add_sync_commands(CLI::App& app, CliContext& ctx) {
  http::add_serve_extension(attach_sync);
  auto* cmd = app.add_subcommand("peers", "Show a running server's mesh: each peer's state, rooms synced, blobs pending and failed");
  auto o = std::make_shared<PeersOptions>();
  cmd->add_option("--server", o->server, "The server's HTTP or sync URL, http(s):// or ws(s):// (default http://127.0.0.1:3913)");
  if (const char* env = std::getenv("BLOBSYNC_ADMIN_TOKEN"); env) o->admin_token = env;
  cmd->add_option("--admin-token", o->admin_token, "Sent as Bearer; needed unless the server is on loopback (default $BLOBSYNC_ADMIN_TOKEN)");
  add_tls_options(cmd, o->ca_file, o->insecure);
  cmd->callback([&ctx, o] { run_peers(ctx, *o); });
}

}  // namespace blobsync
