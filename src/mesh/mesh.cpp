// Mesh (mesh.h): create() wiring the mesh into the sync endpoint, the public
// API posting onto the strand, the shutdown (drain, stop) and the report.
// The strand-side work of each concern is in the other mesh*.cpp files
// (mesh_impl.h lists them).
#include "mesh/mesh.h"

#include <spdlog/spdlog.h>

#include <future>

#include "crdt/doc.h"
#include "mesh/mesh_impl.h"
#include "sync/sync_endpoint.h"

namespace blobsync::mesh {

namespace {

// Runs `done` once, when `n` callbacks have reported (or never, if n == 0:
// the caller checks).
struct Countdown {
  std::atomic<std::size_t> left;
  std::function<void()> done;
  Countdown(std::size_t n, std::function<void()> d) : left(n), done(std::move(d)) {}
  void one() {
    if (left.fetch_sub(1) == 1 && done) done();
  }
};

}  // namespace

// ---- shutdown -----------------------------------------------------------------

void Mesh::Impl::drain(std::function<void()> done) {
  auto once = std::make_shared<std::atomic<bool>>(false);
  auto finish = [once, done = std::move(done)] {
    if (!once->exchange(true)) done();
  };
  draining = true;
  tick_timer.cancel();
  replicator->stop();
  // A deadline for the whole drain.
  auto deadline = std::make_shared<asio::steady_timer>(strand, config.shutdown_flush_timeout);
  deadline->async_wait([finish](const boost::system::error_code& ec) {
    if (!ec) {
      spdlog::warn("mesh: shutdown: not every peer confirmed the withdrawal in time");
      finish();
    }
  });
  auto complete = [finish, deadline] {
    deadline->cancel();
    finish();
  };
  if (rooms.empty()) return complete();
  // Withdraw in every room, then flush every link of that room.
  auto all = std::make_shared<Countdown>(rooms.size(), complete);
  for (auto& [name, st] : rooms) {
    auto links = st.links;
    auto replica = st.replica;
    // Durable means queued to every connection, the links included. The
    // Result is ignored: the drain goes on either way (the room logs a
    // write it cannot make durable).
    st.room->withdraw_all([s = shared_from_this(), links, replica, all](Result<>) {
      replica->read([s, links, all](crdt::Doc& d) {
        if (links.empty()) return all->one();
        auto sv = d.encode_state_vector();
        auto per_link = std::make_shared<Countdown>(links.size(), [all] { all->one(); });
        for (auto& l : links) {
          if (l->status().state != PeerLink::State::kUp) {
            per_link->one();  // a peer that is down learns it from the others, or on its own reconnect
            continue;
          }
          l->flush(sv, s->config.shutdown_flush_timeout, [per_link](bool) { per_link->one(); });
        }
      });
    });
  }
}

void Mesh::Impl::stop_on_strand() {
  if (stopped) return;
  stopped = true;
  draining = true;
  tick_timer.cancel();
  if (replicator) replicator->stop();
  std::vector<std::string> names;
  for (auto& [name, st] : rooms) names.push_back(name);
  for (const auto& n : names) teardown(n);
}

// ---- Mesh ---------------------------------------------------------------------

Result<std::unique_ptr<Mesh>> Mesh::create(MeshConfig config, sync::SyncEndpoint& sync, BlobStore& blobs) {
  MeshDeps deps{sync.rooms(), blobs, sync.config()};
  if (config.partial_dir.empty()) config.partial_dir = deps.sync.data_dir / "mesh-partial";
  std::error_code ec;
  std::filesystem::create_directories(config.partial_dir, ec);
  if (ec) return fail(Errc::kIOError, "cannot create {}: {}", config.partial_dir.string(), ec.message());
  auto impl = std::make_shared<Impl>(std::move(config), deps);
  auto& c = impl->config;
  // Peers are identified by the URL string as configured (its canonical form
  // must equal the peer's own url, which is what it writes into registries).
  auto policy = DialPolicy::create(impl->self, c.peers, c.mesh_allow, c.peer_token);
  if (!policy) return std::unexpected(policy.error());
  impl->policy = *policy;
  auto tls = client::TlsContext::create(c.tls);
  if (!tls) return fail(tls.error().code, "mesh: {}", tls.error().message);
  impl->tls = *tls;
  if (c.tls.insecure)
    spdlog::warn("mesh: tls_insecure is set: wss:// peers and holders are NOT verified, so anyone on the path can "
                 "pose as them and read or change what this server syncs. For tests only; never in production.");
  auto& tokens = deps.sync.tokens;
  if (!c.peer_token.empty() && (std::find(tokens.begin(), tokens.end(), c.peer_token) != tokens.end() ||
                                std::find(deps.sync.read_only_tokens.begin(), deps.sync.read_only_tokens.end(),
                                          c.peer_token) != deps.sync.read_only_tokens.end()))
    spdlog::warn("mesh: peer_token is also a client token: clients holding it can pose as a peer");
  if (c.peer_token.empty() && !impl->policy->peers().empty())
    spdlog::warn("mesh: peer_token is not set: peers treat this server as a client (heals read only blobs a room "
                 "lists, chunks are re-hashed{}); give every server of the mesh the same peer_token",
                 sync::tokens_required(deps.sync) ? ", and peers that require a token refuse it" : "");
  impl->replicate_max = c.replicate_max_bytes ? c.replicate_max_bytes : deps.sync.max_blob_bytes;
  std::weak_ptr<Impl> weak = impl;
  impl->replicator = Replicator::create({
      .ex = impl->ioc.get_executor(),
      .store = deps.blobs,
      .health = impl->health,
      .partial_dir = c.partial_dir,
      .self_url = impl->self,
      .policy = impl->policy,
      .tls = impl->tls,
      .max_fetches = c.max_fetches,
      .connections_per_holder = c.connections_per_holder,
      .backoff_initial = c.blob_backoff_initial,
      .backoff_max = c.blob_backoff_max,
      .connect_timeout = c.connect_timeout,
      .idle_timeout = c.fetch_idle_timeout,
      .run_blocking =
          [weak](std::function<void()> fn) {
            if (auto s = weak.lock()) s->run_blocking(std::move(fn));
          },
      .announce =
          [weak](const std::string& room, const sync::AnnouncedBlob& blob) {
            if (auto s = weak.lock()) s->announce(room, blob);
          },
  });
  if (auto names = sync.stored_rooms()) impl->stored.insert(names->begin(), names->end());
  else spdlog::warn("mesh: cannot list this server's rooms: {}", names.error().to_string());

  sync.use_io_context(impl->ioc);
  sync.set_before_stop([weak](std::function<void()> stop) {
    auto s = weak.lock();
    if (!s) return stop();
    asio::post(s->strand, [s, stop = std::move(stop)]() mutable { s->drain(std::move(stop)); });
  });
  sync.set_fetch_missing([weak](const std::string& room, const Digest& hash, std::function<void(Result<>)> done) {
    auto s = weak.lock();
    if (!s || !s->config.replicate_on_fetch) return done(fail(Errc::kNotFound, "no replicate on fetch"));
    asio::post(s->strand, [s, room, hash, done = std::move(done)]() mutable {
      s->fetch_for_client(room, hash, std::move(done));
    });
  });
  return std::unique_ptr<Mesh>(new Mesh(std::move(impl)));
}

Mesh::Mesh(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Mesh::~Mesh() { stop(); }

const MeshConfig& Mesh::config() const { return impl_->config; }

void Mesh::start() {
  auto& s = *impl_;
  unsigned n = std::max(1u, s.config.io_threads);
  for (unsigned i = 0; i < n; ++i) s.threads.emplace_back([&ioc = s.ioc] { ioc.run(); });
  spdlog::info("mesh: {} as {}, {} peers, {} mesh_allow prefixes, replication {}", "starting", s.self,
               s.policy->peers().size(), s.config.mesh_allow.size(), replication_name(s.config.replication));
  asio::post(s.strand, [impl = impl_] { impl->tick(); });
}

void Mesh::fetch_for_client(const std::string& room, const Digest& hash, std::function<void(Result<>)> done) {
  if (!impl_->config.replicate_on_fetch)
    return done(fail(Errc::kNotFound, "this server does not replicate on fetch"));
  asio::post(impl_->strand, [impl = impl_, room, hash, done = std::move(done)]() mutable {
    impl->fetch_for_client(room, hash, std::move(done));
  });
}

void Mesh::heal(const Digest& hash) {
  asio::post(impl_->strand, [impl = impl_, hash] { impl->heal(hash); });
}

void Mesh::drain(std::function<void()> done) {
  asio::post(impl_->strand, [impl = impl_, done = std::move(done)]() mutable { impl->drain(std::move(done)); });
}

void Mesh::stop() {
  auto& s = *impl_;
  if (s.threads.empty()) return;
  std::promise<void> torn_down;
  asio::post(s.strand, [impl = impl_, &torn_down] {
    impl->stop_on_strand();
    torn_down.set_value();
  });
  torn_down.get_future().wait();
  // Links close asynchronously; rooms the mesh's io_context runs (when it
  // gave the RoomManager its own) need it until the SyncEndpoint stopped them.
  s.work.reset();
  for (int i = 0; i < 200 && !s.ioc.stopped(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  s.ioc.stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  s.pool.join();
}

MeshReport Mesh::report() const {
  auto& s = *impl_;
  MeshReport r;
  r.self = s.self;
  r.replication = std::string(replication_name(s.config.replication));
  std::vector<std::shared_ptr<PeerLink>> links;
  {
    std::lock_guard lock(s.report_mu);
    links = s.all_links;
    r.rooms = s.hosted;
  }
  auto holders = s.replicator->holder_stats();
  auto now = Clock::now();
  for (const auto& peer : s.policy->peers()) {
    PeerReport p;
    p.url = peer;
    for (const auto& l : links) {
      if (l->peer() != peer) continue;
      auto st = l->status();
      ++p.rooms;
      p.rooms_up += st.state == PeerLink::State::kUp;
      p.rooms_synced += st.state == PeerLink::State::kUp && st.synced;
      p.link_failures += st.failures;
      if (st.state != PeerLink::State::kUp && !st.last_error.empty()) p.last_error = st.last_error;
    }
    p.state = p.rooms == 0                  ? "idle"
              : p.rooms_synced == p.rooms  ? "up"
              : p.rooms_up == 0            ? "down"
                                           : "partial";
    if (auto it = holders.find(peer); it != holders.end()) {
      p.blobs_pending = it->second.pending;
      p.blobs_failed = it->second.failed;
      p.blobs_fetched = it->second.fetched;
    }
    if (auto since = s.health.down_since(peer))
      p.down_for_seconds = std::chrono::duration<double>(now - *since).count();
    r.peers.push_back(std::move(p));
  }
  auto st = s.replicator->stats();
  r.fetches_active = st.active;
  r.fetches_queued = st.queued;
  r.blobs_backing_off = st.backing_off;
  r.blobs_replicated = st.fetched;
  r.bytes_replicated = st.bytes;
  r.fetch_failures = st.failed;
  r.holders_pruned = s.pruned.load();
  r.blobs_too_large = st.too_large;
  r.holders_refused = s.policy->refused();
  return r;
}

}  // namespace blobsync::mesh
