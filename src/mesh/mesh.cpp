#include "mesh/mesh.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <future>
#include <thread>

#include "client/room_client.h"
#include "client/ws_url.h"
#include "core/blob_id.h"
#include "crdt/doc.h"
#include "crdt/map.h"
#include "store/blob_store.h"
#include "mesh/dial_policy.h"
#include "mesh/heal.h"
#include "mesh/holder_health.h"
#include "mesh/local_replica.h"
#include "mesh/peer_link.h"
#include "mesh/replicator.h"
#include "protocol/registry.h"
#include "sync/room.h"
#include "sync/room_manager.h"
#include "sync/room_name.h"
#include "sync/sync_config.h"
#include "sync/sync_endpoint.h"

namespace blobsync::mesh {

namespace asio = boost::asio;

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

  // ---- rooms ----------------------------------------------------------------

  void tick() {
    if (draining || stopped) return;
    // With no peers of its own a server still lists its rooms in the
    // directory room, so servers that name it as their peer find them
    // (ensure_room hosts nothing else then).
    std::set<std::string> local = stored;
    for (auto& name : deps.rooms.names()) local.insert(std::move(name));  // parked rooms too
    std::set<std::string> wanted = directory;
    wanted.insert(kDirectoryRoom);
    std::vector<std::string> unlisted;
    for (const auto& name : local) {
      wanted.insert(name);
      if (name != kDirectoryRoom && !directory.contains(name)) unlisted.push_back(name);
    }
    if (!unlisted.empty()) add_to_directory(std::move(unlisted));
    // Replace rooms whose local side went away (storage failure, unload).
    std::vector<std::string> dead;
    for (auto& [name, st] : rooms) {
      bool gone = st.replica->closed();
      for (auto& l : st.links) gone = gone || l->status().local_closed;
      if (gone) dead.push_back(name);
    }
    for (const auto& name : dead) teardown(name);
    for (const auto& name : wanted) ensure_room(name);
    auto now = Clock::now();
    if (now - last_rescan >= config.rescan_interval) {
      last_rescan = now;
      for (auto& [name, st] : rooms) scan(name, std::nullopt);
    }
    if (config.prune_after.count() > 0 && now - last_prune >= config.probe_interval) {
      last_prune = now;
      for (auto& [name, st] : rooms) prune(name);
    }
    tick_timer.expires_after(config.tick_interval);
    tick_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->tick();
    });
  }

  void add_to_directory(std::vector<std::string> names) {
    auto it = rooms.find(kDirectoryRoom);
    if (it == rooms.end()) return;  // next tick
    for (const auto& n : names) directory.insert(n);  // don't re-add while the edit travels
    it->second.replica->edit([names = std::move(names)](crdt::Doc& doc) {
      auto map = doc.get_map(kDirectoryMap);
      if (!map) return;
      for (const auto& n : names)
        if (!map.has(n)) map.set(n, crdt::Prelim(crdt::Any(true)));
    });
  }

  void ensure_room(const std::string& name) {
    // With no peers there is nothing to link: no replica pins the room
    // (rooms park when idle), only the directory room is kept, for servers
    // that have this one as their peer to learn the rooms from.
    if ((policy->peers().empty() && name != kDirectoryRoom) || rooms.contains(name) || draining || stopped) return;
    if (!sync::validate_room_name(name)) return;  // junk in the directory
    auto room = deps.rooms.acquire(name);
    if (!room) return;  // the sync service is stopping
    RoomState st;
    st.room = room;
    st.replica = LocalReplica::create(ioc.get_executor(), room);
    std::weak_ptr<Impl> weak = shared_from_this();
    bool is_directory = name == kDirectoryRoom;
    st.replica->start([weak, name, is_directory](crdt::Doc& doc, const std::vector<std::string>& keys) {
      auto s = weak.lock();
      if (!s) return;
      if (is_directory) {
        auto map = doc.get_map(kDirectoryMap);
        std::vector<std::string> names = map ? map.keys() : std::vector<std::string>{};
        asio::post(s->strand, [s, names = std::move(names)] {
          for (const auto& n : names) {
            s->directory.insert(n);
            s->ensure_room(n);
          }
        });
      } else if (!keys.empty()) {
        asio::post(s->strand, [s, name, keys] { s->scan(name, std::set<std::string>(keys.begin(), keys.end())); });
      }
    });
    for (const auto& peer : policy->peers()) {
      PeerLinkOptions o;
      o.peer = peer;
      o.room = name;
      o.token = policy->peer_token();  // never a client token (docs/protocol.md)
      o.connect_timeout = config.connect_timeout;
      o.backoff_initial = config.link_backoff_initial;
      o.backoff_max = config.link_backoff_max;
      auto link = PeerLink::create(ioc.get_executor(), std::move(o), room, health);
      link->start();
      st.links.push_back(link);
    }
    {
      std::lock_guard lock(report_mu);
      all_links.insert(all_links.end(), st.links.begin(), st.links.end());
      hosted = rooms.size() + 1;
    }
    rooms.emplace(name, std::move(st));
    spdlog::debug("mesh: hosting room {}", name);
  }

  void teardown(const std::string& name) {
    auto it = rooms.find(name);
    if (it == rooms.end()) return;
    auto& st = it->second;
    for (auto& l : st.links) l->stop();
    st.replica->stop();
    deps.rooms.release(st.room);
    {
      std::lock_guard lock(report_mu);
      std::erase_if(all_links, [&](const auto& l) {
        return std::find(st.links.begin(), st.links.end(), l) != st.links.end();
      });
      hosted = rooms.size() - 1;
    }
    rooms.erase(it);
  }

  // ---- registry scans ---------------------------------------------------------

  // Reads the room's registry (the given keys, or all), then (off the I/O
  // threads) checks the store: held but unlisted -> announce; listed
  // elsewhere, not held -> fetch (replication = all). Changes seen by the
  // replica scan only their keys, so a burst of announcements costs O(burst).
  void scan(const std::string& name, std::optional<std::set<std::string>> keys) {
    auto it = rooms.find(name);
    if (it == rooms.end() || draining) return;
    auto& st = it->second;
    if (st.scanning) {
      if (keys) st.dirty.insert(keys->begin(), keys->end());
      else st.full_pending = true;
      return;
    }
    st.scanning = true;
    st.replica->read([s = shared_from_this(), name, keys = std::move(keys)](crdt::Doc& doc) {
      std::vector<std::pair<Digest, protocol::RegistryEntry>> entries;
      if (!keys) {
        entries = protocol::registry_entries(doc);
      } else {
        for (const auto& key : *keys) {
          auto hash = parse_blob_id(key);
          if (!hash) continue;
          if (auto e = protocol::registry_get(doc, *hash)) entries.emplace_back(*hash, std::move(*e));
        }
      }
      s->run_blocking([s, name, entries = std::move(entries)]() mutable {
        std::vector<char> held;
        std::vector<sync::AnnouncedBlob> unlisted;  // held, not listed: announced with the store's size
        held.reserve(entries.size());
        for (const auto& [hash, e] : entries) {
          held.push_back(s->holds(hash));
          bool listed = std::find(e.holders.begin(), e.holders.end(), s->self) != e.holders.end();
          if (!held.back() || listed) continue;
          if (auto rec = s->deps.blobs.stat(hash)) unlisted.push_back(sync::AnnouncedBlob{hash, rec->size, rec->chunk_count});
        }
        asio::post(s->strand, [s, name, entries = std::move(entries), held = std::move(held),
                               unlisted = std::move(unlisted)] { s->act(name, entries, held, unlisted); });
      });
    });
  }

  // Registry sizes are whatever a client wrote: announcements use the
  // store's record, fetches the holder's META (Replicator, max_bytes).
  void act(const std::string& name, const std::vector<std::pair<Digest, protocol::RegistryEntry>>& entries,
           const std::vector<char>& held, const std::vector<sync::AnnouncedBlob>& unlisted) {
    auto it = rooms.find(name);
    if (it == rooms.end()) return;
    auto& st = it->second;
    st.scanning = false;
    if (draining) return;
    // Results ignored: a write the room cannot make durable is logged there
    // (and closes the room), and a later scan finds what is still unlisted.
    for (const auto& blob : unlisted) st.room->announce(blob, [](Result<>) {});
    if (config.replication == Replication::kAll) {
      for (std::size_t i = 0; i < entries.size(); ++i) {
        const auto& [hash, e] = entries[i];
        if (held[i]) continue;
        auto holders = policy->admit(e.holders);  // only peers and mesh_allow matches
        if (!holders.empty()) replicator->want(FetchJob{hash, name, std::move(holders), replicate_max});
      }
    }
    if (st.full_pending) {
      st.full_pending = false;
      st.dirty.clear();
      scan(name, std::nullopt);
    } else if (!st.dirty.empty()) {
      scan(name, std::exchange(st.dirty, {}));
    }
  }

  // ---- pruning ----------------------------------------------------------------

  void prune(const std::string& name) {
    auto it = rooms.find(name);
    if (it == rooms.end()) return;
    auto replica = it->second.replica;
    replica->read([s = shared_from_this(), name, replica](crdt::Doc& doc) {
      auto entries = protocol::registry_entries(doc);
      // mesh_allow holders have no link telling us whether they are up:
      // probe them. Peers have links; any other holder is never dialed.
      std::set<std::string> others;
      for (const auto& [h, e] : entries)
        for (const auto& holder : e.holders)
          if (auto t = s->policy->classify(holder); t.kind == DialPolicy::Kind::kAllowed) others.insert(t.url);
      for (const auto& url : others) s->probe(url, name);
      s->run_blocking([s, replica, entries = std::move(entries)] {
        // Health is known only for admitted holders, under their dial URL.
        auto health_key = [&](const std::string& holder) -> std::optional<std::string> {
          auto t = s->policy->classify(holder);
          if (t.kind != DialPolicy::Kind::kPeer && t.kind != DialPolicy::Kind::kAllowed) return std::nullopt;
          return t.url;
        };
        auto actions = plan_prunes(
            entries, s->self, [&](const Digest& h) { return s->holds(h); }, s->health, Clock::now(),
            s->config.prune_after, health_key);
        if (actions.empty()) return;
        replica->edit([s, actions](crdt::Doc& d) {
          for (const auto& a : actions) {
            // Removes another server's membership: the one write a server
            // makes on others' behalf (docs/protocol.md, pruning rule).
            if (protocol::registry_withdraw(d, a.hash, a.holder)) {
              s->pruned.fetch_add(1);
              spdlog::info("mesh: pruned stale holder {} of {}", a.holder, to_hash_ref(a.hash));
            }
          }
        });
      });
    });
  }

  void probe(const std::string& url, const std::string& room) {
    auto parsed = client::parse_ws_url(url);
    if (!parsed) return;
    client::RoomClientOptions o;
    o.server = *parsed;
    o.room = room;
    o.token = policy->classify(url).token;  // none for mesh_allow holders
    o.sync_doc = false;
    o.user_agent = kMeshUserAgent;
    o.connect_timeout = config.connect_timeout;
    auto c = client::RoomClient::create(ioc.get_executor(), std::move(o), nullptr);
    asio::post(c->strand(), [s = shared_from_this(), c, url] {
      c->open([s, c, url](Result<> r) {
        if (r) s->health.reachable(url);
        else s->health.unreachable(url);
        c->close();
      });
    });
  }

  // ---- replicate on fetch -------------------------------------------------------

  void fetch_for_client(const std::string& room, const Digest& hash, std::function<void(Result<>)> done) {
    auto it = rooms.find(room);
    if (it == rooms.end() || draining || stopped)
      return done(fail(Errc::kNotFound, "room {} is not hosted by the mesh", room));
    it->second.replica->read([s = shared_from_this(), room, hash, done = std::move(done)](crdt::Doc& doc) mutable {
      auto entry = protocol::registry_get(doc, hash);
      auto holders = entry ? s->policy->admit(entry->holders) : std::vector<std::string>{};
      if (holders.empty())
        return done(fail(Errc::kNotFound, "no holder of {} this server may fetch from is listed", to_hash_ref(hash)));
      // A client is waiting: up to what a client could upload here.
      s->replicator->fetch_now(FetchJob{hash, room, std::move(holders), s->deps.sync.max_blob_bytes},
                               std::move(done));
    });
  }

  // ---- heal a quarantined blob (heal.h) -------------------------------------------

  void heal(const Digest& hash) {
    if (draining || stopped || policy->peers().empty()) return;
    std::vector<std::pair<std::string, std::shared_ptr<LocalReplica>>> replicas;
    for (auto& [name, st] : rooms)
      if (name != kDirectoryRoom) replicas.emplace_back(name, st.replica);
    read_entries(hash, std::move(replicas), [s = shared_from_this(), hash](RoomEntries entries) {
      asio::post(s->strand, [s, hash, entries = std::move(entries)] { s->heal_from(hash, entries); });
    });
  }

  void heal_from(const Digest& hash, const RoomEntries& entries) {
    if (draining || stopped) return;
    HealPlan plan = plan_heal(entries, self, policy->peers());
    // Results ignored: the heal does not wait on the withdrawals, and the room
    // logs a write it cannot make durable.
    for (const auto& name : plan.withdraw_from)
      if (auto it = rooms.find(name); it != rooms.end()) it->second.room->withdraw(hash, [](Result<>) {});
    spdlog::info("mesh: healing quarantined {} from {} peer(s)", to_hash_ref(hash), plan.holders.size());
    // The size limit is this server's own (the registry's size is a claim).
    replicator->fetch_now(FetchJob{hash, plan.room.value_or(kDirectoryRoom), plan.holders, deps.sync.max_blob_bytes},
                          [hash](Result<> r) {
                            if (r) spdlog::info("mesh: healed {}", to_hash_ref(hash));
                            else spdlog::warn("mesh: cannot heal {} yet: {}", to_hash_ref(hash), r.error().message);
                          });
  }

  void announce(const std::string& room, const sync::AnnouncedBlob& blob) {
    if (room == kDirectoryRoom) return;  // a heal fetched through it: the scans announce in the real rooms
    // Results ignored, as in act(): the room logs a failed write and the
    // scans announce what is still unlisted.
    asio::post(strand, [s = shared_from_this(), room, blob] {
      if (auto it = s->rooms.find(room); it != s->rooms.end()) {
        it->second.room->announce(blob, [](Result<>) {});
        return;
      }
      s->deps.rooms.with_room(room, [blob](sync::Room& r, std::function<void()> release) {
        r.announce(blob, [release](Result<>) { release(); });
      });
    });
  }

  // ---- shutdown -----------------------------------------------------------------

  void drain(std::function<void()> done) {
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

  void stop_on_strand() {
    if (stopped) return;
    stopped = true;
    draining = true;
    tick_timer.cancel();
    if (replicator) replicator->stop();
    std::vector<std::string> names;
    for (auto& [name, st] : rooms) names.push_back(name);
    for (const auto& n : names) teardown(n);
  }
};

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
  auto& tokens = deps.sync.tokens;
  if (!c.peer_token.empty() && (std::find(tokens.begin(), tokens.end(), c.peer_token) != tokens.end() ||
                                std::find(deps.sync.read_only_tokens.begin(), deps.sync.read_only_tokens.end(),
                                          c.peer_token) != deps.sync.read_only_tokens.end()))
    spdlog::warn("mesh: peer_token is also a client token: clients holding it can pose as a peer");
  if (c.peer_token.empty() && !tokens.empty() && !impl->policy->peers().empty())
    spdlog::warn("mesh: sync tokens are required here but peer_token is not set: this server presents no token to "
                 "its peers, and peers that require one refuse it");
  impl->replicate_max = c.replicate_max_bytes ? c.replicate_max_bytes : deps.sync.max_blob_bytes;
  ReplicatorDeps replicator_deps{impl->ioc.get_executor(), deps.blobs, impl->health, c.partial_dir, impl->self,
                                impl->policy, {}, {}, {}, {}, {}, {}, {}, {}};
  replicator_deps.max_fetches = c.max_fetches;
  replicator_deps.connections_per_holder = c.connections_per_holder;
  replicator_deps.backoff_initial = c.blob_backoff_initial;
  replicator_deps.backoff_max = c.blob_backoff_max;
  replicator_deps.connect_timeout = c.connect_timeout;
  replicator_deps.idle_timeout = c.fetch_idle_timeout;
  std::weak_ptr<Impl> weak = impl;
  replicator_deps.run_blocking = [weak](std::function<void()> fn) {
    if (auto s = weak.lock()) s->run_blocking(std::move(fn));
  };
  replicator_deps.announce = [weak](const std::string& room, const sync::AnnouncedBlob& blob) {
    if (auto s = weak.lock()) s->announce(room, blob);
  };
  impl->replicator = Replicator::create(std::move(replicator_deps));
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
