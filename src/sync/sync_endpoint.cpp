#include "sync/sync_endpoint.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

#include <future>

#include "crdt/doc.h"
#include "http/config.h"
#include "store/mime_policy.h"
#include "http/server.h"
#include "http/upgrade.h"
#include "store/blob_store.h"
#include "sync/blob_channel.h"
#include "sync/conn_pool.h"
#include "protocol/registry.h"
#include "sync/room_core.h"
#include "sync/room_holds.h"
#include "sync/room_manager.h"
#include "sync/room_store.h"
#include "sync/token_quota.h"
#include "sync/upload_staging.h"
#include "sync/ws_session.h"

namespace blobsync::sync {

namespace asio = boost::asio;

struct SyncEndpoint::State : std::enable_shared_from_this<SyncEndpoint::State> {
  State(const SyncConfig& c, BlobStore& b, BlobLifecycle* l, std::unique_ptr<RoomStore> s)
      : config(c),
        blobs(b),
        lifecycle(l),
        store(std::move(s)),
        staging(config.staging_dir, std::chrono::duration_cast<std::chrono::seconds>(config.staging_expiry),
                config.max_staging_bytes),
        mime(config.allowed_mime.empty() ? default_allowed_mime() : config.allowed_mime),
        pool(std::max(1u, config.blob_threads)),
        blob_deps{config, blobs, staging, mime, [this](std::function<void()> fn) { asio::post(pool, std::move(fn)); }, {},
                  [this](std::chrono::milliseconds delay, std::function<void()> fn) -> std::function<void()> {
                    // A timer on the worker pool; cancelled when its upload
                    // ends, so none outlives the sessions at shutdown.
                    auto t = std::make_shared<asio::steady_timer>(pool, delay);
                    t->async_wait([t, fn = std::move(fn)](const boost::system::error_code& ec) {
                      if (!ec) fn();
                    });
                    return [t] { t->cancel(); };
                  }},
        manager(config, *store, blobs, lifecycle),
        quotas(*store),
        session_deps{config, manager, blob_deps, sessions, "/sync/", {}, &quotas} {}

  SyncConfig config;
  BlobStore& blobs;
  BlobLifecycle* lifecycle;
  std::unique_ptr<RoomStore> store;
  UploadStaging staging;
  MimePolicy mime;
  asio::thread_pool pool;
  BlobChannelDeps blob_deps;
  RoomManager manager;
  SessionRegistry sessions;
  TokenQuotas quotas;
  SessionDeps session_deps;
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::unique_ptr<asio::signal_set> signals;  // guarded by mu
  std::function<void(std::function<void()>)> before_stop;

  void stop();
  // REQUIRES: mu held.
  void adopt_io_context(asio::io_context& ioc);
  // Edits a room's document without any connection (start-up, or while no
  // io_context exists): load, change, persist.
  Result<> offline_edit(const std::string& room,
                        const std::function<void(RoomCore&, const StoredRoom&, RoomEffects&)>& fn);
  Result<> reconcile_offline(const std::string& room);
};

void SyncEndpoint::State::stop() {
  if (stopping.exchange(true)) return;
  spdlog::info("sync: stopping: closing {} connections, persisting {} rooms", sessions.size(), manager.loaded());
  sessions.close_all(1001, "server shutting down");
  sessions.stop_sweep();  // it posts to the connections' io_context, which may go before this State
  manager.stop(config.withdraw_on_shutdown);
  // The io_context may go before the store: later commits tell the rooms
  // (closing now) from the store's thread, which posts to their strands.
  store->set_listener_poster({});
  std::lock_guard lock(mu);
  if (signals) {
    boost::system::error_code ignored;
    signals->cancel(ignored);
    // Destroyed now, not with the State: the io_context it was made on may
    // be the mesh's, and the mesh (with its io_context) may go first.
    signals.reset();
  }
}

Result<> SyncEndpoint::State::offline_edit(const std::string& room,
                                          const std::function<void(RoomCore&, const StoredRoom&, RoomEffects&)>& fn) {
  std::promise<Result<StoredRoom>> p;
  auto f = p.get_future();
  store->load(room, [&p](Result<StoredRoom> r) { p.set_value(std::move(r)); });
  auto stored = f.get();
  if (!stored) return std::unexpected(stored.error());
  RoomCore core(config.gc, config.doc_limits);
  core.load(stored->snapshot, stored->log);
  std::optional<RoomHolds> holds;
  if (lifecycle) holds.emplace(*store, *lifecycle, room_holder(room, config.url));
  if (holds && core.doc().root(protocol::kRegistryMap)) holds->loaded(core.doc(), true);  // as a load does
  RoomEffects fx;
  fn(core, *stored, fx);
  auto precondition = holds ? holds->before_append(core.doc(), fx.registry_keys) : nullptr;
  std::uint64_t seq = stored->last_seq;
  for (auto& delta : fx.persist) store->append(stored->id, ++seq, std::move(delta), nullptr, precondition);
  if (holds) holds->after_append();
  store->flush();
  if (precondition && !*precondition) return std::unexpected(precondition->error());
  return {};
}

Result<> SyncEndpoint::State::reconcile_offline(const std::string& room) {
  return offline_edit(room, [this, &room](RoomCore& core, const StoredRoom& stored, RoomEffects& fx) {
    auto holds = [this](const Digest& h) {
      auto r = blobs.contains(h);
      return r && *r;
    };
    auto verified = [this](const Digest& h) -> std::optional<protocol::HeldBlob> {
      auto r = blobs.stat(h);
      if (!r) return std::nullopt;
      return protocol::HeldBlob{h, r->size, r->chunk_count};
    };
    std::vector<protocol::HeldBlob> ours;
    for (const auto& a : stored.announced) ours.push_back({a.hash, a.size, a.chunk_count});
    std::size_t changed = 0;
    core.local_change(
        [&](crdt::Doc& doc) {
          changed = protocol::registry_reconcile(doc, config.url, holds, verified, ours, RoomCore::local_origin());
        },
        fx);
    for (const auto& a : stored.announced)
      if (!holds(a.hash)) store->remove_announce(stored.id, a.hash);
    if (changed) spdlog::info("sync: room {}: re-announce changed {} registry entries", room, changed);
  });
}

Result<std::unique_ptr<SyncEndpoint>> SyncEndpoint::create(const SyncConfig& config_in, BlobStore& blobs,
                                                         BlobLifecycle* lifecycle) {
  SyncConfig config = config_in;
  if (config.staging_dir.empty()) config.staging_dir = config.data_dir / "sync-staging";
  if (config.window == 0 || config.window > protocol::kMaxWindow) return fail(Errc::kInvalidArgument, "sync window must be 1-256");
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  auto store = RoomStore::open(config.data_dir / "meta.db", config.fsync);
  if (!store) return std::unexpected(store.error());
  auto state = std::make_shared<State>(config, blobs, lifecycle, std::move(*store));
  state->manager.set_owner(state);
  state->session_deps.owner = state;
  if (auto r = state->staging.init(); !r) return std::unexpected(r.error());
  // Re-announce what we hold (and withdraw what we lost) in every room we announced in.
  auto rooms = state->store->rooms_with_announcements();
  if (!rooms) return std::unexpected(rooms.error());
  for (const auto& room : *rooms)
    if (auto r = state->reconcile_offline(room); !r)
      spdlog::warn("sync: re-announcing in room {} failed: {}", room, r.error().to_string());
  return std::unique_ptr<SyncEndpoint>(new SyncEndpoint(std::move(state)));
}

SyncEndpoint::~SyncEndpoint() {
  state_->stop();
  state_->store->flush();
}

void SyncEndpoint::State::adopt_io_context(asio::io_context& ioc) {
  manager.set_io_context(ioc);
  // A commit group's rooms hear of it in one hop to their threads (room_store.h).
  store->set_listener_poster([&ioc](std::function<void()> fn) { asio::post(ioc, std::move(fn)); });
  if (stopping) return;  // stop() has run: no signal handling to set up
  // The server ends run() only when no work is left: on SIGINT/SIGTERM close
  // our connections and rooms too.
  signals = std::make_unique<asio::signal_set>(ioc, SIGINT, SIGTERM);
  std::weak_ptr<State> weak = shared_from_this();
  signals->async_wait([weak](const boost::system::error_code& ec, int) {
    if (ec) return;
    auto s = weak.lock();
    if (!s) return;
    if (!s->before_stop) return s->stop();
    s->before_stop([weak] {
      if (auto st = weak.lock()) st->stop();
    });
  });
}

void SyncEndpoint::use_io_context(asio::io_context& ioc) {
  std::lock_guard lock(state_->mu);
  if (!state_->manager.has_io_context()) state_->adopt_io_context(ioc);
}

void SyncEndpoint::set_before_stop(std::function<void(std::function<void()>)> hook) {
  state_->before_stop = std::move(hook);
}

void SyncEndpoint::set_fetch_missing(FetchMissing fn) { state_->blob_deps.fetch_missing = std::move(fn); }

RoomManager& SyncEndpoint::rooms() { return state_->manager; }

TokenQuotas& SyncEndpoint::quotas() { return state_->quotas; }

const SyncConfig& SyncEndpoint::config() const { return state_->config; }

Result<std::vector<std::string>> SyncEndpoint::stored_rooms() { return state_->store->room_names(); }

void SyncEndpoint::attach(http::Server& server) {
  use_io_context(server.io_context());  // unless the mesh chose first (sync_endpoint.h)
  // Asio's per-socket reactor state, made at accept and kept for reuse forever, in pool slabs
  // rather than pinning heap pages among the connections' short-lived objects.
  server.set_accept_scope([](const std::function<void()>& accept) {
    ConnPool::Scope pooled;
    accept();
  });
  std::weak_ptr<State> weak = state_;
  server.add_upgrade_handler(state_->session_deps.prefix, [weak](std::unique_ptr<http::UpgradeContext> ctx) {
    auto state = weak.lock();
    if (!state) return;  // the service is gone: dropping ctx closes the socket
    start_ws_session(state->session_deps, std::move(ctx));
  });
}

void SyncEndpoint::stop() { state_->stop(); }

void SyncEndpoint::blob_removed(const Digest& hash) {
  auto rooms = state_->store->rooms_announcing(hash);
  if (!rooms) {
    spdlog::error("sync: cannot look up the rooms of a removed blob: {}", rooms.error().to_string());
    return;
  }
  for (const auto& name : *rooms) {
    if (state_->manager.has_io_context() && !state_->stopping) {
      state_->manager.with_room(name, [hash](Room& room, std::function<void()> release) {
        room.withdraw(hash, [release](Result<>) { release(); });
      });
    } else {
      auto r = state_->offline_edit(name, [&](RoomCore& core, const StoredRoom& stored, RoomEffects& fx) {
        core.local_change(
            [&](crdt::Doc& doc) { protocol::registry_withdraw(doc, hash, state_->config.url, RoomCore::local_origin()); }, fx);
        state_->store->remove_announce(stored.id, hash);
      });
      if (!r) spdlog::warn("sync: withdrawing from room {} failed: {}", name, r.error().to_string());
    }
  }
}

Result<> SyncEndpoint::withdraw_blob(const Digest& hash, std::chrono::milliseconds timeout) {
  auto rooms = state_->store->rooms_announcing(hash);
  if (!rooms) return std::unexpected(rooms.error());
  for (const auto& name : *rooms) {
    // Rooms are live (or shutting down): never edit one behind their back.
    if (state_->manager.has_io_context() && state_->stopping)
      return fail(Errc::kCancelled, "shutting down: room {} is not withdrawn from now", name);
    if (state_->manager.has_io_context()) {
      // Room::withdraw reports once the change and the announcement row are durable.
      auto done = std::make_shared<std::promise<Result<>>>();
      auto f = done->get_future();
      state_->manager.with_room(name, [hash, done](Room& room, std::function<void()> release) {
        room.withdraw(hash, [release, done](Result<> r) {
          release();
          done->set_value(std::move(r));
        });
      });
      if (f.wait_for(timeout) != std::future_status::ready)
        return fail(Errc::kTimeout, "withdrawing from room {} took longer than {} ms", name, timeout.count());
      if (auto r = f.get(); !r) return fail(r.error().code, "room {}: {}", name, r.error().message);
    } else {
      auto r = state_->offline_edit(name, [&](RoomCore& core, const StoredRoom& stored, RoomEffects& fx) {
        core.local_change(
            [&](crdt::Doc& doc) { protocol::registry_withdraw(doc, hash, state_->config.url, RoomCore::local_origin()); }, fx);
        state_->store->remove_announce(stored.id, hash);
      });
      if (!r) return fail(r.error().code, "room {}: {}", name, r.error().message);
    }
  }
  return {};
}

SyncEndpoint::Stats SyncEndpoint::stats() const {
  auto st = state_->store->stats();
  auto& m = state_->manager;
  return Stats{state_->sessions.size(), m.loaded(), st.commits, st.appends, m.parked(), m.parks(), m.unparks(),
               st.quarantined};
}

std::string SyncEndpoint::render_metrics() const {
  auto st = stats();
  return fmt::format(
      "# HELP blobsync_sync_rooms_loaded Rooms in memory (active or parked).\n"
      "# TYPE blobsync_sync_rooms_loaded gauge\n"
      "blobsync_sync_rooms_loaded {}\n"
      "# HELP blobsync_sync_rooms_parked Rooms parked: no connection, durable, kept as one encoded update.\n"
      "# TYPE blobsync_sync_rooms_parked gauge\n"
      "blobsync_sync_rooms_parked {}\n"
      "# HELP blobsync_sync_room_parks_total Rooms parked since start.\n"
      "# TYPE blobsync_sync_room_parks_total counter\n"
      "blobsync_sync_room_parks_total {}\n"
      "# HELP blobsync_sync_room_unparks_total Parked rooms made active again since start.\n"
      "# TYPE blobsync_sync_room_unparks_total counter\n"
      "blobsync_sync_room_unparks_total {}\n"
      "# HELP blobsync_sync_updates_quarantined_total Stored room updates kept aside at load since start "
      "(malformed or past a limit; table sync_quarantine).\n"
      "# TYPE blobsync_sync_updates_quarantined_total counter\n"
      "blobsync_sync_updates_quarantined_total {}\n"
      "# HELP blobsync_sync_connections_dormant WebSocket connections idle long enough to hold no Beast stream.\n"
      "# TYPE blobsync_sync_connections_dormant gauge\n"
      "blobsync_sync_connections_dormant {}\n",
      st.rooms_loaded, st.rooms_parked, st.parks, st.unparks, st.quarantined, state_->sessions.dormant());
}

}  // namespace blobsync::sync
