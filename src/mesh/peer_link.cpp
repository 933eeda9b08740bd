#include "mesh/peer_link.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include <list>

#include "client/room_client.h"
#include "sync/connection.h"
#include "mesh/backoff.h"
#include "mesh/holder_health.h"
#include "mesh/mesh_config.h"
#include "mesh/mesh_conn_id.h"
#include "mesh/yjs_frames.h"
#include "sync/room.h"

namespace blobsync::mesh {

namespace asio = boost::asio;

std::string_view link_state_name(PeerLink::State s) {
  switch (s) {
    case PeerLink::State::kConnecting: return "connecting";
    case PeerLink::State::kUp: return "up";
    case PeerLink::State::kBackoff: return "down";
    case PeerLink::State::kStopped: return "stopped";
  }
  return "?";
}

namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

class LinkConn;

struct PeerLink::Impl : std::enable_shared_from_this<PeerLink::Impl> {
  Impl(asio::any_io_executor ex, PeerLinkOptions o, std::shared_ptr<sync::Room> r, HolderHealth& h)
      : strand(asio::make_strand(std::move(ex))),
        opts(std::move(o)),
        room(std::move(r)),
        health(h),
        backoff(opts.backoff_initial, opts.backoff_max),
        retry(strand) {}

  struct Flush {
    std::uint64_t id = 0;
    int stage = 1;
    std::uint64_t target = 0;
    crdt::Bytes sv;
    std::function<void(bool)> done;
    std::shared_ptr<asio::steady_timer> timer;
  };

  asio::strand<asio::any_io_executor> strand;
  PeerLinkOptions opts;
  std::shared_ptr<sync::Room> room;
  HolderHealth& health;
  Backoff backoff;
  asio::steady_timer retry;

  // Everything below: strand only.
  std::shared_ptr<client::RoomClient> client;
  std::shared_ptr<LinkConn> conn;
  std::uint64_t gen = 0;  // bumped per connection attempt; stale callbacks compare
  bool stopped = false, joined = false, was_up = false;
  std::vector<std::vector<std::uint8_t>> early;  // peer frames before the local join completed
  // Per connection, for flush(): SyncStep1s given to the local room and its
  // SyncStep2 answers; SyncStep1s sent to the peer and its answers.
  std::uint64_t local_step1 = 0, local_step2 = 0, peer_step1 = 0, peer_step2 = 0;
  std::list<Flush> flushes;
  std::uint64_t next_flush = 1;

  mutable std::mutex mu;
  Status status;  // guarded by mu

  template <class F>
  void update(F&& f) {
    std::lock_guard lock(mu);
    f(status);
  }

  void attempt();
  void up(std::uint64_t g);
  void joined_room(std::uint64_t g, bool ok);
  void down(std::uint64_t g, const std::string& why, bool was_open);
  void from_peer(std::uint64_t g, std::span<const std::uint8_t> frame);
  void from_local(std::uint64_t g, const std::vector<sync::SharedBytes>& msgs);
  void local_gone(std::uint64_t g);
  void leave_room();
  void fail_flushes();
  void check_flushes();
  void to_peer(std::vector<std::uint8_t> frame);
  void to_room(std::vector<std::uint8_t> frame);
};

// The peer as a connection of the local room.
class LinkConn final : public sync::Connection {
 public:
  LinkConn(std::weak_ptr<PeerLink::Impl> link, std::uint64_t gen) : link_(std::move(link)), gen_(gen) {}
  sync::ConnId id() const override { return id_; }
  void send(std::vector<sync::SharedBytes> messages) override {
    last_send_.store(steady_ms(), std::memory_order_relaxed);
    auto l = link_.lock();
    if (!l) return;
    asio::post(l->strand, [l, g = gen_, messages = std::move(messages)] { l->from_local(g, messages); });
  }
  void close(std::uint16_t, std::string_view) override {
    if (auto l = link_.lock()) asio::post(l->strand, [l, g = gen_] { l->local_gone(g); });
  }
  std::int64_t last_send_ms() const override { return last_send_.load(std::memory_order_relaxed); }

 private:
  std::weak_ptr<PeerLink::Impl> link_;
  std::uint64_t gen_;
  sync::ConnId id_ = next_mesh_conn_id();
  std::atomic<std::int64_t> last_send_{steady_ms()};
};

void PeerLink::Impl::attempt() {
  if (stopped) return;
  std::uint64_t g = ++gen;
  joined = was_up = false;
  early.clear();
  local_step1 = local_step2 = peer_step1 = peer_step2 = 0;
  update([](Status& s) {
    s.state = State::kConnecting;
    s.synced = false;
  });
  auto url = client::parse_ws_url(opts.peer);
  if (!url) return down(g, url.error().message, false);
  client::RoomClientOptions o;
  o.server = *url;
  o.tls = opts.tls;
  if (o.tls) warn_if_insecure(*o.tls, o.server);
  o.room = opts.room;
  o.token = opts.token;
  o.sync_doc = false;
  o.user_agent = kMeshUserAgent;
  o.connect_timeout = opts.connect_timeout;
  std::weak_ptr<Impl> weak = shared_from_this();
  o.on_yjs_frame = [weak, g](std::span<const std::uint8_t> frame) {
    if (auto s = weak.lock()) s->from_peer(g, frame);
  };
  // The client's strand is nested in ours: its callbacks run serialised with
  // everything else here.
  client = client::RoomClient::create(strand, std::move(o), nullptr);
  client->on_closed([weak, g](const Error& e) {
    if (auto s = weak.lock()) s->down(g, e.message, true);
  });
  client->open([weak, g](Result<> r) {
    auto s = weak.lock();
    if (!s) return;
    if (!r) s->down(g, r.error().message, false);
    else s->up(g);
  });
}

void PeerLink::Impl::up(std::uint64_t g) {
  if (g != gen || stopped) return;
  health.reachable(opts.peer);
  was_up = true;
  conn = std::make_shared<LinkConn>(weak_from_this(), g);
  std::weak_ptr<Impl> weak = shared_from_this();
  room->join(conn, [weak, g](bool ok) {
    if (auto s = weak.lock()) asio::post(s->strand, [s, g, ok] { s->joined_room(g, ok); });
  });
}

void PeerLink::Impl::joined_room(std::uint64_t g, bool ok) {
  if (g != gen || stopped) return;
  if (!ok) return local_gone(g);
  joined = true;
  for (auto& f : early) to_room(std::move(f));
  early.clear();
  update([](Status& s) {
    s.state = State::kUp;
    ++s.connects;
  });
}

void PeerLink::Impl::down(std::uint64_t g, const std::string& why, bool was_open) {
  if (g != gen) return;
  ++gen;  // anything still in flight for this connection is now stale
  if (!was_open || !was_up) health.unreachable(opts.peer);
  if (client) client->close();
  client.reset();
  leave_room();
  fail_flushes();
  if (stopped) return;
  // A connection that reached sync was healthy: retry quickly.
  bool synced;
  {
    std::lock_guard lock(mu);
    synced = status.synced;
  }
  if (synced) backoff.reset();
  auto delay = backoff.next();
  // A new reason (a certificate that does not verify, a refused token) is
  // worth a warning; the same one again on every retry is not.
  bool repeated;
  {
    std::lock_guard lock(mu);
    repeated = status.failures > 0 && status.last_error == why;
  }
  spdlog::log(repeated ? spdlog::level::debug : spdlog::level::warn, "mesh: link {} room {}: {}; retrying in {} ms",
              opts.peer, opts.room, why, delay.count());
  update([&](Status& s) {
    s.state = State::kBackoff;
    s.synced = false;
    ++s.failures;
    s.last_error = why;
  });
  retry.expires_after(delay);
  retry.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (auto s = weak.lock(); s && !ec) s->attempt();
  });
}

void PeerLink::Impl::from_peer(std::uint64_t g, std::span<const std::uint8_t> frame) {
  if (g != gen || stopped) return;
  update([](Status& s) { ++s.frames_in; });
  if (is_sync(frame, protocol::kSyncStep1)) ++local_step1;  // answered by the local room
  if (is_sync(frame, protocol::kSyncStep2)) {
    ++peer_step2;
    update([](Status& s) { s.synced = true; });
  }
  std::vector<std::uint8_t> copy(frame.begin(), frame.end());
  if (!joined) early.push_back(std::move(copy));
  else to_room(std::move(copy));
  check_flushes();
}

void PeerLink::Impl::from_local(std::uint64_t g, const std::vector<sync::SharedBytes>& msgs) {
  if (g != gen || stopped || !client) return;
  for (const auto& m : msgs) {
    if (is_sync(*m, protocol::kSyncStep2)) ++local_step2;
    to_peer(*m);
  }
  check_flushes();
}

void PeerLink::Impl::local_gone(std::uint64_t g) {
  if (g != gen) return;
  // The local room closed (shutdown or storage failure): this link is done;
  // the mesh replaces it if the room comes back.
  stopped = true;
  ++gen;
  retry.cancel();
  conn.reset();  // the room already dropped it
  joined = false;
  if (client) client->close();
  client.reset();
  fail_flushes();
  update([](Status& s) {
    s.state = State::kStopped;
    s.local_closed = true;
  });
}

void PeerLink::Impl::leave_room() {
  if (conn) room->leave(conn->id());
  conn.reset();
  joined = false;
}

void PeerLink::Impl::fail_flushes() {
  auto all = std::move(flushes);
  flushes.clear();
  for (auto& f : all) {
    f.timer->cancel();
    f.done(false);
  }
}

void PeerLink::Impl::check_flushes() {
  for (auto it = flushes.begin(); it != flushes.end();) {
    if (it->stage == 1 && local_step2 >= it->target) {
      // Everything the room queued to us before the probe is now queued to
      // the peer, ahead of this SyncStep1.
      it->stage = 2;
      to_peer(sync_frame(protocol::kSyncStep1, it->sv));
      it->target = peer_step1;
    }
    if (it->stage == 2 && peer_step2 >= it->target) {
      it->timer->cancel();
      auto done = std::move(it->done);
      it = flushes.erase(it);
      done(true);
      continue;
    }
    ++it;
  }
}

void PeerLink::Impl::to_peer(std::vector<std::uint8_t> frame) {
  if (!client) return;
  if (is_sync(frame, protocol::kSyncStep1)) ++peer_step1;
  update([](Status& s) { ++s.frames_out; });
  client->send_frame(std::move(frame));
}

void PeerLink::Impl::to_room(std::vector<std::uint8_t> frame) {
  room->message(conn->id(), false, std::move(frame), [] {});
}

// ---- PeerLink ----------------------------------------------------------------

std::shared_ptr<PeerLink> PeerLink::create(asio::any_io_executor ex, PeerLinkOptions options,
                                           std::shared_ptr<sync::Room> room, HolderHealth& health) {
  auto impl = std::make_shared<Impl>(std::move(ex), std::move(options), std::move(room), health);
  return std::shared_ptr<PeerLink>(new PeerLink(std::move(impl)));
}

PeerLink::PeerLink(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

PeerLink::~PeerLink() { stop(); }

const std::string& PeerLink::peer() const { return impl_->opts.peer; }
const std::string& PeerLink::room() const { return impl_->opts.room; }

void PeerLink::start() {
  asio::post(impl_->strand, [s = impl_] { s->attempt(); });
}

void PeerLink::stop() {
  asio::post(impl_->strand, [s = impl_] {
    if (s->stopped) return;
    s->stopped = true;
    ++s->gen;
    s->retry.cancel();
    s->leave_room();
    if (s->client) s->client->close();
    s->client.reset();
    s->fail_flushes();
    s->update([](Status& st) { st.state = State::kStopped; });
  });
}

void PeerLink::flush(crdt::Bytes state_vector, std::chrono::milliseconds timeout, std::function<void(bool)> done) {
  asio::post(impl_->strand, [s = impl_, sv = std::move(state_vector), timeout, done = std::move(done)]() mutable {
    if (s->stopped || !s->joined || !s->client) return done(false);
    Impl::Flush f;
    f.id = s->next_flush++;
    f.sv = std::move(sv);
    f.done = std::move(done);
    f.timer = std::make_shared<asio::steady_timer>(s->strand, timeout);
    f.target = ++s->local_step1;
    auto probe = sync_frame(protocol::kSyncStep1, f.sv);
    std::uint64_t id = f.id;
    f.timer->async_wait([weak = std::weak_ptr<Impl>(s), id](const boost::system::error_code& ec) {
      auto l = weak.lock();
      if (!l || ec) return;
      for (auto it = l->flushes.begin(); it != l->flushes.end(); ++it) {
        if (it->id != id) continue;
        auto cb = std::move(it->done);
        l->flushes.erase(it);
        cb(false);
        return;
      }
    });
    s->flushes.push_back(std::move(f));
    s->to_room(std::move(probe));
  });
}

PeerLink::Status PeerLink::status() const {
  std::lock_guard lock(impl_->mu);
  return impl_->status;
}

}  // namespace blobsync::mesh
