// Room on an Asio strand (see room.h).
#include "sync/room.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include "core/blob_id.h"
#include "crdt/doc.h"
#include "store/blob_store.h"
#include "sync/access.h"
#include "sync/broadcast_window.h"
#include "sync/conn_pool.h"
#include "sync/parked_room.h"
#include "protocol/registry.h"
#include "sync/room_holds.h"
#include "sync/room_inbox.h"
#include "sync/room_core.h"
#include "sync/room_manager.h"

namespace blobsync::sync {

namespace asio = boost::asio;

namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

constexpr std::int64_t kKeepaliveAfterMs = 15'000;  // y-websocket drops a connection silent for 30 s

class RoomImpl final : public Room, public std::enable_shared_from_this<RoomImpl> {
 public:
  RoomImpl(RoomDeps deps, std::string name, asio::io_context& ioc)
      : deps_(deps),
        name_(std::move(name)),
        strand_(asio::make_strand(ioc)),
        tick_(strand_),
        window_(strand_, [this](std::span<const SharedBytes> msgs) {
          for (auto& [id, conn] : conns_) conn->send_shared(msgs);
        }) {}

  void start(std::optional<StoredRoom> preloaded) {
    auto self = shared_from_this();
    if (preloaded) {  // un-parked: no store read
      asio::post(strand_, [self, r = std::move(*preloaded)]() mutable {
        self->on_loaded(Result<StoredRoom>(std::move(r)), false);
      });
      return;
    }
    deps_.store.load(name_, [self](Result<StoredRoom> r) {
      asio::post(self->strand_, [self, r = std::move(r)]() mutable { self->on_loaded(std::move(r), true); });
    });
  }

  const std::string& name() const override { return name_; }

  void join(std::shared_ptr<Connection> conn, std::function<void(bool)> ready) override {
    post([this, conn = std::move(conn), ready = std::move(ready)]() mutable {
      if (state_ == State::kLoading) {
        waiting_.emplace_back(std::move(conn), std::move(ready));
        return;
      }
      if (state_ != State::kReady) return ready(false);
      do_join(std::move(conn));
      ready(true);
    });
  }

  // Both through the inbox, in arrival order, in bounded turns (room_inbox.h).
  void leave(ConnId id) override { enter({id, true, false, {}, {}}); }

  void message(ConnId id, bool read_only, std::vector<std::uint8_t> msg, std::function<void()> done) override {
    enter({id, false, read_only, std::move(msg), std::move(done)});
  }

  void announce(const AnnouncedBlob& blob, std::function<void(Result<>)> done) override {
    when_ready([this, blob, done = std::move(done)](bool ok) mutable {
      if (!ok) return done(fail(Errc::kUnsupported, "room {} is not available", name_));
      if (withdrawn_) {  // shutting down: the restart announces it
        announced_[blob.hash] = blob;
        deps_.store.record_announce(stored_id(), blob, [done = std::move(done)](const Result<>& r) { done(r); });
        return;
      }
      announced_[blob.hash] = blob;
      change([&](crdt::Doc& doc) {
        protocol::registry_announce(doc, blob.hash, blob.size, blob.chunk_count, deps_.config.url, RoomCore::local_origin());
      });
      // Queued after the delta's append, so its commit implies the delta's.
      deps_.store.record_announce(stored_id(), blob, [done = std::move(done)](const Result<>& r) { done(r); });
    });
  }

  void listed(std::vector<Digest> hashes, std::function<void(std::vector<bool>)> done) override {
    when_ready([this, hashes = std::move(hashes), done = std::move(done)](bool ok) {
      std::vector<bool> out(hashes.size(), false);
      if (ok)
        for (std::size_t i = 0; i < hashes.size(); ++i) out[i] = protocol::registry_has_key(core_->doc(), hashes[i]);
      done(std::move(out));
    });
  }

  void withdraw(const Digest& hash, std::function<void(Result<>)> done) override {
    when_ready([this, hash, done = std::move(done)](bool ok) mutable {
      if (!ok) return done(fail(Errc::kUnsupported, "room {} is not available", name_));
      announced_.erase(hash);
      change([&](crdt::Doc& doc) { protocol::registry_withdraw(doc, hash, deps_.config.url, RoomCore::local_origin()); });
      // The entry stays (withdrawals keep keys): so does its hold, written
      // again before `done`, for a sweeper that asked (blob_lifecycle.h).
      if (deps_.lifecycle) holds().rehold_if_listed(core_->doc(), hash);
      deps_.store.remove_announce(stored_id(), hash, [done = std::move(done)](const Result<>& r) { done(r); });
    });
  }

  void withdraw_all(std::function<void(Result<>)> done) override {
    when_ready([this, done = std::move(done)](bool ok) mutable {
      if (!ok) return done(fail(Errc::kUnsupported, "room {} is not available", name_));
      withdrawn_ = true;
      if (reconcile_) reconcile_->cancel();
      change([&](crdt::Doc& doc) {
        for (const auto& [hash, entry] : protocol::registry_entries(doc))
          protocol::registry_withdraw(doc, hash, deps_.config.url, RoomCore::local_origin());
      });
      // Queued after the delta's append, so its commit implies the delta's.
      deps_.store.barrier([done = std::move(done)](const Result<>& r) { done(r); });
    });
  }

  void shutdown(bool withdraw_all, std::function<void()> done) override {
    post([this, withdraw_all, done = std::move(done)] {
      for (auto& [conn, ready] : waiting_) ready(false);
      waiting_.clear();
      for (auto& [id, conn] : conns_) conn->close(1001, "server shutting down");
      if (state_ == State::kReady) {
        if (withdraw_all)
          change([&](crdt::Doc& doc) {
            for (const auto& [hash, blob] : announced_)
              protocol::registry_withdraw(doc, hash, deps_.config.url, RoomCore::local_origin());
          });
        compact(true);
      }
      close_room();
      done();
    });
  }

  void stats(std::function<void(RoomStats)> done) override {
    post([this, done = std::move(done)] {
      done(RoomStats{conns_.size(), applied_, durable_, core_ ? core_->awareness().state_count() : 0});
    });
  }

  void edit(std::function<void(crdt::Doc*)> fn) override {
    when_ready([this, fn = std::move(fn)](bool ok) {
      if (!ok || !core_) return fn(nullptr);
      change([&](crdt::Doc& doc) { fn(&doc); });
    });
  }

 private:
  enum class State { kLoading, kReady, kClosed };

  struct Listener final : DurabilityListener {
    std::weak_ptr<RoomImpl> room;
    void on_durable(std::uint64_t seq, const Result<>& result) override {
      auto r = room.lock();
      if (!r) return;
      // Inline when told on one of the room's threads (RoomStore's poster).
      asio::dispatch(r->strand_, [r, seq, ok = result.has_value()] { r->on_durable(seq, ok); });
    }
  };

  struct Held { std::uint64_t seq; ConnId to; SharedBytes msg; };

  // A connection's message or leave; done() runs once a message was handled (paces its reads).
  struct Inbound { ConnId id; bool leave, read_only; std::vector<std::uint8_t> msg; std::function<void()> done; };

  void enter(Inbound in) {
    if (!inbox_.push(std::move(in))) return;
    // Inline on the reading thread when the strand is free: no hop to another thread (a futex wake
    // and a context switch per update, docs/performance.md); from the room's own strand, never.
    if (strand_.running_in_this_thread()) post([this] { turn(); });
    else asio::dispatch(strand_, [self = shared_from_this()] { self->turn(); });
  }

  // One bounded turn; a room with more queued goes behind the io_context's other work.
  void turn() {
    std::optional<ConnPool::Scope> pooled;  // the directory room's document (for good) in pool slabs: conn_pool.h
    if (pooled_turns_) pooled.emplace();
    if (inbox_.take_turn([this](Inbound& in) { in.leave ? on_leave(in.id) : on_message(in); })) post([this] { turn(); });
  }

  void on_message(Inbound& in) {
    if (state_ == State::kReady && conns_.contains(in.id)) {
      RoomEffects fx;
      core_->handle(in.id, in.msg, in.read_only, steady_ms(), fx, conns_.at(in.id)->write_quota());
      for (const auto& e : fx.errors) spdlog::debug("sync: room {} conn {}: {}", name_, in.id, e);
      apply(fx);
    }
    in.done();
  }

  void on_leave(ConnId id) {
    std::erase_if(waiting_, [&](auto& w) { return w.first->id() == id; });
    if (!conns_.erase(id) || !core_) return;
    RoomEffects fx;
    core_->leave(id, fx);
    apply(fx);
    if (conns_.empty()) {
      conns_ = decltype(conns_)();  // an idle room keeps no bucket array (`= {}` would keep it)
      idle_since_ = steady_ms();
      maybe_park();
    }
  }

  template <class F>
  void post(F&& f) {
    asio::post(strand_, [self = shared_from_this(), f = std::forward<F>(f)]() mutable { f(); });
  }

  // Runs fn(true) on the strand once loaded, fn(false) if the room failed.
  void when_ready(std::function<void(bool)> fn) {
    post([this, fn = std::move(fn)]() mutable {
      if (state_ == State::kLoading) after_load_.push_back(std::move(fn));
      else fn(state_ == State::kReady);
    });
  }

  // from_store: read from the RoomStore (not un-parked in this process).
  void on_loaded(Result<StoredRoom> r, bool from_store) {
    if (state_ != State::kLoading) return;
    if (!r) {
      spdlog::error("sync: cannot load room {}: {}", name_, r.error().to_string());
      fail_room();
      return;
    }
    core_ = std::make_unique<RoomCore>(deps_.config.gc, deps_.config.doc_limits);
    auto failed = core_->load(r->snapshot, r->log);
    room_id_ = r->id;
    applied_ = durable_ = r->last_seq;
    log_count_ = r->log.size();
    log_bytes_ = r->log_bytes;
    snapshot_bytes_ = r->snapshot.size();
    quarantine(*r, failed);
    for (const auto& a : r->announced) announced_[a.hash] = a;
    // Holds left by a crash between a hold and its delta, or missing from
    // before holds existed: make them what the registry says.
    if (deps_.lifecycle && core_->doc().root(protocol::kRegistryMap)) holds().loaded(core_->doc(), from_store);
    listener_ = std::make_shared<Listener>();
    listener_->room = weak_from_this();
    state_ = State::kReady;
    idle_since_ = steady_ms();
    schedule_tick();
    for (auto& [conn, ready] : waiting_) {
      do_join(conn);
      ready(true);
    }
    waiting_.clear();
    for (auto& fn : after_load_) fn(true);
    after_load_.clear();
    if (!announced_.empty()) schedule_reconcile();  // re-announce what we hold
  }

  // Stored entries that failed to apply or broke a limit (issue 18): kept
  // aside in the store's sync_quarantine, logged and counted, so no restart
  // pays for them again; the room runs on without them. A fresh snapshot
  // keeps whatever part of them did apply.
  void quarantine(const StoredRoom& r, const std::vector<RoomCore::LoadFailure>& failed) {
    if (failed.empty()) return;
    for (const auto& f : failed) {
      bool snap = f.index == RoomCore::kSnapshot;
      std::uint64_t seq = snap ? 0 : r.log_seqs.at(f.index);
      spdlog::error("sync: room {}: stored {} quarantined (table sync_quarantine, seq {}): {}", name_,
                    snap ? "snapshot" : "update", seq, f.reason);
      deps_.store.quarantine(stored_id(), seq, f.reason);
    }
    auto snapshot = core_->doc().encode_state_as_update();
    snapshot_bytes_ = snapshot.size();
    log_count_ = 0;
    log_bytes_ = 0;
    deps_.store.compact(stored_id(), applied_, std::move(snapshot));
  }

  void fail_room() {
    for (auto& [conn, ready] : waiting_) ready(false);
    waiting_.clear();
    for (auto& fn : after_load_) fn(false);
    after_load_.clear();
    for (auto& [id, conn] : conns_) conn->close(1011, "room storage failure");
    close_room();
    deps_.manager.forget(this);
  }

  void close_room() {
    state_ = State::kClosed;
    conns_.clear();
    held_ = {};
    window_.clear();
    tick_.cancel();
    if (reconcile_) reconcile_->cancel();
    core_.reset();
  }

  void do_join(std::shared_ptr<Connection> conn) {
    ConnId id = conn->id();
    window_.flush();  // broadcasts from before the greeting go to the others only
    conns_[id] = std::move(conn);
    RoomEffects fx;
    core_->join(id, fx);
    apply(fx);
  }

  // The room's store id, its row created by the first write (a room that
  // never holds content is never stored).
  std::int64_t stored_id() {
    if (room_id_ == 0) room_id_ = deps_.store.create(name_, listener_);
    return room_id_;
  }

  // Made on first use: most rooms have no registry. REQUIRES: deps_.lifecycle.
  RoomHolds& holds() {
    if (!holds_) holds_ = std::make_unique<RoomHolds>(deps_.store, *deps_.lifecycle, room_holder(name_, deps_.config.url));
    return *holds_;
  }

  // Someone else deleted the entry of a blob this server announced: the room
  // no longer wants it here, so no reconcile or restart brings the entry
  // back (the lifecycle then collects the blob once nothing else holds it).
  // Our own withdrawals (shutdown) keep their announcements for the restart.
  void forget_removed_announcements(const std::vector<std::string>& keys) {
    for (const auto& key : keys) {
      auto d = parse_blob_id(key);
      if (!d || !key.starts_with("sha256:") || !announced_.contains(*d)) continue;
      if (protocol::registry_has_key(core_->doc(), *d)) continue;
      announced_.erase(*d);
      deps_.store.remove_announce(stored_id(), *d);
    }
  }

  // A change of this server's own (registry maintenance, the mesh's edits), persisted and broadcast.
  void change(const std::function<void(crdt::Doc&)>& fn) {
    RoomEffects fx;
    core_->local_change(fn, fx);
    apply(fx);
  }

  // Carries out what the core asked for: persist deltas, send or hold messages.
  void apply(RoomEffects& fx) {
    // Registry keys changed: holds before the appends, releases after (room_holds.h).
    bool keys = !fx.registry_keys.empty() && deps_.lifecycle;
    auto precondition = keys ? holds().before_append(core_->doc(), fx.registry_keys) : nullptr;
    for (auto& delta : fx.persist) {
      ++applied_;
      ++log_count_;
      log_bytes_ += delta.size();
      deps_.store.append(stored_id(), applied_, std::move(delta), listener_, precondition);
    }
    if (keys) holds().after_append();
    if (fx.registry_changed_remotely) forget_removed_announcements(fx.registry_keys);
    std::vector<std::pair<ConnId, SharedBytes>> now;
    for (auto& o : fx.out) {
      if (o.reveals_doc && (durable_ < applied_ || !held_.empty())) {
        held_.push_back({applied_, o.to, std::move(o.msg)});
        continue;
      }
      now.emplace_back(o.to, std::move(o.msg));
    }
    deliver_in_order(now);
    if (fx.registry_changed_remotely) schedule_reconcile();
    compact(false);
  }

  void route(ConnId to, SharedBytes msg, std::unordered_map<ConnId, std::vector<SharedBytes>>& batch) {
    if (to == kAllConnections) {
      for (auto& [id, conn] : conns_) batch[id].push_back(msg);
    } else if (conns_.contains(to)) {
      batch[to].push_back(std::move(msg));
    }
  }

  // Hands `msgs` (in order) to their connections. The common case, only
  // broadcasts (a burst of updates made durable together), shares one list
  // with every connection: a commit group's at once (the store spaces the
  // groups), others through the window (broadcast_window.h).
  void deliver_in_order(std::vector<std::pair<ConnId, SharedBytes>>& msgs, bool commit_group = false) {
    if (msgs.empty()) return;
    bool all_broadcast = std::all_of(msgs.begin(), msgs.end(), [](const auto& m) { return m.first == kAllConnections; });
    if (all_broadcast) {
      std::vector<SharedBytes> shared;
      shared.reserve(msgs.size());
      for (auto& m : msgs) shared.push_back(std::move(m.second));
      if (commit_group) window_.send_now(std::move(shared));
      else window_.broadcast(std::move(shared), shared_from_this());
      return;
    }
    window_.flush();  // held broadcasts go first
    std::unordered_map<ConnId, std::vector<SharedBytes>> batch;
    for (auto& m : msgs) route(m.first, std::move(m.second), batch);
    deliver(batch);
  }

  void deliver(std::unordered_map<ConnId, std::vector<SharedBytes>>& batch) {
    for (auto& [id, msgs] : batch) {
      auto it = conns_.find(id);
      if (it != conns_.end()) it->second->send(std::move(msgs));
    }
  }

  void on_durable(std::uint64_t seq, bool ok) {
    if (state_ != State::kReady) return;
    if (!ok) {
      spdlog::error("sync: room {}: update not durable; closing its connections", name_);
      fail_room();
      return;
    }
    durable_ = std::max(durable_, seq);
    std::vector<std::pair<ConnId, SharedBytes>> ready;
    std::size_t n = 0;
    for (; n < held_.size() && held_[n].seq <= durable_; ++n) ready.emplace_back(held_[n].to, std::move(held_[n].msg));
    if (n == held_.size()) held_ = decltype(held_)();  // idle rooms keep no storage (`= {}` would keep it)
    else held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(n));
    deliver_in_order(ready, true);
    if (conns_.empty()) maybe_park();
  }

  // Parks the room (room.h) if it is idle, everything is durable and nobody
  // holds it. Returns true if the room closed.
  bool maybe_park() {
    if (state_ != State::kReady || !conns_.empty() || !waiting_.empty() || !after_load_.empty() ||
        durable_ != applied_ || !held_.empty() || reconcile_pending_ || withdrawn_ || !announced_.empty() ||
        users.load() != 0)
      return false;
    if (room_id_ == 0) {
      // Never stored, so empty: nothing worth keeping in memory either.
      if (!deps_.manager.try_unload(this)) return false;
      close_room();
      return true;
    }
    ParkedRoom parked;
    parked.id = room_id_;
    parked.last_seq = applied_;
    parked.state = core_->doc().encode_state_as_update();
    if (!deps_.manager.try_park(this, std::move(parked))) return false;
    close_room();
    return true;
  }

  // Folds the log into a snapshot when it has grown enough (or `force` and
  // anything is logged). Amortised: the log must outgrow the snapshot.
  void compact(bool force) {
    if (!core_ || log_count_ == 0) return;
    bool due = log_count_ >= deps_.config.compact_updates ||
               log_bytes_ >= std::max<std::uint64_t>(deps_.config.compact_bytes, snapshot_bytes_);
    if (!due && !force) return;
    auto snapshot = core_->doc().encode_state_as_update();
    snapshot_bytes_ = snapshot.size();
    core_->set_doc_bytes(snapshot.size());  // the limit's estimate made exact
    log_count_ = 0;
    log_bytes_ = 0;
    deps_.store.compact(stored_id(), applied_, std::move(snapshot));
  }

  std::chrono::milliseconds tick_interval() const {
    auto half = deps_.config.room_idle_timeout / 2;
    return std::clamp<std::chrono::milliseconds>(half, std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
  }

  void schedule_tick() {
    tick_.expires_after(tick_interval());
    tick_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->on_tick();
    });
  }

  void on_tick() {
    if (state_ != State::kReady) return;
    if (maybe_park()) return;
    auto now = steady_ms();
    RoomEffects fx;
    core_->expire_awareness(now, fx);
    apply(fx);
    for (auto& [id, conn] : conns_)
      if (now - conn->last_send_ms() >= kKeepaliveAfterMs) conn->send({RoomCore::keepalive_message()});
    if (conns_.empty() && waiting_.empty() && now - idle_since_ >= deps_.config.room_idle_timeout.count() &&
        durable_ == applied_ && held_.empty() && after_load_.empty()) {
      compact(true);
      if (deps_.manager.try_unload(this)) {
        close_room();
        return;
      }
    }
    schedule_tick();
  }

  void schedule_reconcile() {
    if (reconcile_pending_ || withdrawn_) return;
    reconcile_pending_ = true;
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    auto base = deps_.config.reconcile_delay.count();
    auto jitter = std::uniform_int_distribution<std::int64_t>(0, std::max<std::int64_t>(base, 1))(rng);
    if (!reconcile_) reconcile_ = std::make_unique<asio::steady_timer>(strand_);
    reconcile_->expires_after(std::chrono::milliseconds(base + jitter));
    reconcile_->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      self->reconcile_pending_ = false;
      if (!ec) self->run_reconcile();
    });
  }

  void run_reconcile() {
    if (state_ != State::kReady || withdrawn_) return;
    auto holds = [this](const Digest& h) {
      auto r = deps_.blobs.contains(h);
      return r && *r;
    };
    auto verified = [this](const Digest& h) -> std::optional<protocol::HeldBlob> {
      auto r = deps_.blobs.stat(h);
      if (!r) return std::nullopt;
      return protocol::HeldBlob{h, r->size, r->chunk_count};
    };
    std::vector<protocol::HeldBlob> ours;
    for (const auto& [hash, a] : announced_) ours.push_back({a.hash, a.size, a.chunk_count});
    std::size_t changed = 0;
    change([&](crdt::Doc& doc) {
      changed = protocol::registry_reconcile(doc, deps_.config.url, holds, verified, ours, RoomCore::local_origin());
    });
    if (changed) spdlog::info("sync: room {}: registry reconcile changed {} entries", name_, changed);
    // Keep the announcement table in step with what the registry now says.
    std::unordered_set<Digest> listed;
    for (const auto& [hash, entry] : protocol::registry_entries(core_->doc())) {
      if (std::find(entry.holders.begin(), entry.holders.end(), deps_.config.url) == entry.holders.end()) continue;
      listed.insert(hash);
      if (!announced_.contains(hash)) {
        auto v = verified(hash);  // not the entry's size: a client may have written it
        if (!v) continue;
        AnnouncedBlob a{hash, v->size, v->chunk_count};
        announced_[hash] = a;
        deps_.store.record_announce(stored_id(), a);
      }
    }
    for (auto it = announced_.begin(); it != announced_.end();) {
      if (!listed.contains(it->first) && !holds(it->first)) {
        deps_.store.remove_announce(stored_id(), it->first);
        it = announced_.erase(it);
      } else {
        ++it;
      }
    }
  }

  RoomDeps deps_;
  std::string name_;
  const bool pooled_turns_ = name_ == kMeshRoom;  // decided once, not on every turn
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer tick_;
  BroadcastWindow window_;
  std::unique_ptr<asio::steady_timer> reconcile_;  // made on first use: most rooms never reconcile
  State state_ = State::kLoading;
  std::unique_ptr<RoomCore> core_;
  std::int64_t room_id_ = 0;
  // Two buckets, not the 13 a default-constructed map takes on its first insert.
  std::unordered_map<ConnId, std::shared_ptr<Connection>> conns_ = decltype(conns_)(2);
  std::vector<std::pair<std::shared_ptr<Connection>, std::function<void(bool)>>> waiting_;
  std::vector<std::function<void(bool)>> after_load_;
  std::shared_ptr<Listener> listener_;
  std::vector<Held> held_;  // FIFO; a vector: an empty deque costs 576 bytes per room
  std::uint64_t applied_ = 0, durable_ = 0;
  std::uint64_t log_count_ = 0, log_bytes_ = 0, snapshot_bytes_ = 0;
  std::int64_t idle_since_ = 0;
  bool reconcile_pending_ = false;
  bool withdrawn_ = false;  // withdraw_all() ran: no more registry writes
  std::unordered_map<Digest, AnnouncedBlob> announced_;
  std::unique_ptr<RoomHolds> holds_;  // the registry's holds (room_holds.h), if it has one
  RoomInbox<Inbound> inbox_;
};

}  // namespace

std::shared_ptr<Room> make_room(RoomDeps deps, std::string name, asio::io_context& ioc,
                                std::optional<StoredRoom> preloaded) {
  auto room = std::make_shared<RoomImpl>(deps, std::move(name), ioc);
  room->start(std::move(preloaded));
  return room;
}

}  // namespace blobsync::sync
