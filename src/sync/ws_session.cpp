// WebSocket sessions (see ws_session.h). The only file with Beast websocket.
#include "sync/ws_session.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <span>
#include <sstream>
#include <type_traits>

#include "http/upgrade.h"
#include "sync/access.h"
#include "sync/blob_channel.h"
#include "sync/coalescing_socket.h"
#include "sync/conn_pool.h"
#include "sync/room.h"
#include "sync/room_manager.h"
#include "sync/room_holds.h"
#include "sync/room_name.h"
#include "sync/sync_config.h"
#include "sync/ws_dormancy.h"
#include "sync/ws_wire.h"

namespace blobsync::sync {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace bhttp = beast::http;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxQueuedMessages = 64;       // Yjs messages waiting for the room
constexpr std::size_t kMaxBufferedChunks = 8u << 20;  // blob bytes waiting for the disk

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class WsSession final : public Connection, public std::enable_shared_from_this<WsSession> {
 public:
  using Request = bhttp::request<bhttp::string_body>;
  using Stream = websocket::stream<WireRef, false>;  // no permessage-deflate: its state is not kept
  WsSession(SessionDeps& deps, std::unique_ptr<http::UpgradeContext> ctx)
      : deps_(deps),
        owner_(deps.owner.lock()),
        wire_(std::allocate_shared<Wire>(ConnAllocator<Wire>{}, std::move(ctx->stream))),
        dormancy_(deps.config.ws_idle_timeout.count() / 2),
        slot_(std::move(ctx->slot)) {}

  // The upgrade request and the bytes read past it live in run()'s frame: an idle connection keeps neither.
  void start(Request request, beast::flat_buffer leftover) {
    emplace_stream(ws_, wire_);
    asio::co_spawn(sock().get_executor(), run(shared_from_this(), std::move(request), std::move(leftover)),
                   asio::detached);
  }

  CoalescingSocket& sock() noexcept { return wire_->sock; }

  // The key the room limits count this client under (http/rate_limiter.h).
  std::string client_address() {
    boost::system::error_code ec;
    auto a = sock().stream().next_layer().socket().remote_endpoint(ec).address();
    return http::client_address_key(a.is_v6() ? "[" + a.to_string() + "]:0" : a.to_string() + ":0");
  }

  // ---- Connection ----
  ConnId id() const override { return id_; }

  void send(std::vector<SharedBytes> messages) override { enqueue(std::span<SharedBytes>(messages)); }
  void send_shared(std::span<const SharedBytes> messages) override { enqueue(messages); }

  template <class M>
  void enqueue(std::span<M> messages) {
    using Sent = CoalescingSocket::Sent;
    Sent sent = Sent::kNo;
    bool start_writer = false, too_slow = false;
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      last_send_ms_.store(steady_ms(), std::memory_order_relaxed);
      // Nothing queued: straight to the socket from this thread (a room's
      // strand), no hop to the connection's (coalescing_socket.h).
      if (open_ && queue_.empty() && !writing_) sent = sock().try_send(messages);
      if (sent == Sent::kFailed) {
        closed_ = true;
      } else if (sent == Sent::kRest) {
        writing_ = true;  // later messages queue behind the rest
      } else if (sent == Sent::kNo) {
        for (auto& m : messages) {
          queued_bytes_ += m->size();
          if constexpr (std::is_const_v<M>) queue_.push_back(m);
          else queue_.push_back(std::move(m));
        }
        // One message may always go out, however large; beyond that the queue is bounded.
        if (queued_bytes_ > deps_.config.max_queued_bytes && queue_.size() > 1) {
          closed_ = true;
          too_slow = true;
        } else if (!writing_) {
          writing_ = true;
          start_writer = true;
        }
      }
    }
    auto ex = sock().get_executor();
    if (sent == Sent::kFailed) {
      asio::post(ex, [self = shared_from_this()] { self->abort(); });
    } else if (sent == Sent::kRest) {
      asio::post(ex, [self = shared_from_this()] {
        self->sock().flush_now();
        self->write_next();
      });
    } else if (too_slow) {
      spdlog::warn("sync: connection {} reads too slowly ({} bytes queued); closing it", id_, queued_bytes());
      asio::post(ex, [self = shared_from_this()] { self->close_too_slow(); });
    } else if (start_writer) {
      asio::post(ex, [self = shared_from_this()] { self->write_next(); });
    }
  }

  void close(std::uint16_t code, std::string_view reason) override {
    asio::post(sock().get_executor(), [self = shared_from_this(), code, reason = std::string(reason)] {
      self->close_on_strand(code, reason);
    });
  }

  std::int64_t last_send_ms() const override { return last_send_ms_.load(std::memory_order_relaxed); }

  // The registry's sweep (its thread): a hop to the strand only when something is due.
  void sweep(std::int64_t now_ms) override {
    if (dormancy_.due(now_ms)) asio::post(sock().get_executor(), [self = shared_from_this()] { self->on_sweep_due(); });
  }
  TokenQuota* write_quota() override { return quota_.get(); }

 private:
  std::size_t queued_bytes() const {
    std::lock_guard lock(mu_);
    return queued_bytes_;
  }

  void abort() {
    sock().close();
    if (resume_) resume_->cancel();
    if (paused_) {  // no read pending to fail: end here
      paused_ = false;
      finish();
    }
  }

  // A reader too far behind (max_queued_bytes): its queue goes at once, a
  // close frame (1013) follows what the socket still holds, and the
  // connection is cut after a grace period whether or not it was read.
  void close_too_slow() {
    {
      std::lock_guard lock(mu_);
      queue_ = {};
      queued_bytes_ = 0;
    }
    if (close_started_ || !accepted_) return abort();
    auto grace = std::make_shared<asio::steady_timer>(sock().get_executor(), std::chrono::seconds(5));
    grace->async_wait([self = shared_from_this(), grace](beast::error_code ec) {
      if (!ec) self->abort();
    });
    close_on_strand(1013, "reading too slowly: too many bytes queued for this connection");
  }

  void close_on_strand(std::uint16_t code, const std::string& reason) {
    if (close_started_ || !accepted_) return;
    if (waking_) return when_awake([self = shared_from_this(), code, reason] { self->close_on_strand(code, reason); });
    if (!ws_) return close_dormant(code, reason);
    close_started_ = true;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    ws_->async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason), [self = shared_from_this()](beast::error_code) {
      self->abort();
    });
  }

  // A dormant connection's close: Beast's close frame written raw (a fresh stream's close beside the
  // pending peek lost its frame 2 runs in 3), then the peer's answer awaited (the peek) <= 30 s, as Beast.
  void close_dormant(std::uint16_t code, const std::string& reason) {
    close_started_ = true;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    auto bytes = std::make_shared<std::vector<std::uint8_t>>(close_frame(code, reason));
    sock().async_write_some(asio::buffer(*bytes), [bytes](boost::system::error_code, std::size_t) {});
    auto grace = std::make_shared<asio::steady_timer>(sock().get_executor(), std::chrono::seconds(30));
    grace->async_wait([self = shared_from_this(), grace](beast::error_code ec) {
      if (!ec) self->abort();
    });
  }

  // Moves queued messages into the socket's buffer as frames, as many as fit
  // below its high-water mark, then flushes: one send per batch.
  void write_next() {
    auto& sock = wire_->sock;
    std::size_t moved = 0, left = 0;
    bool more = false, failed = false;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty() || close_started_ || !accepted_) {
        writing_ = false;
        return;
      }
      if (sock.error()) {
        failed = closed_ = true;
        writing_ = false;
        queue_.clear();
        queued_bytes_ = 0;
      } else if (!sock.blocked()) {
        std::size_t k = sock.append_frames(queue_);
        for (std::size_t i = 0; i < k; ++i) moved += queue_[i]->size();
        // Move-assigned: `queue_ = {}` would keep the capacity (an empty initializer list).
        if (k == queue_.size()) queue_ = std::vector<SharedBytes>();  // idle connections keep no queue storage
        else queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(k));
        queued_bytes_ -= moved;
      }
      left = queued_bytes_;
      more = !queue_.empty();
      if (!more) writing_ = false;
    }
    if (failed) return abort();
    sock.flush_now();
    if (blob_ && moved && left < BlobChannel::kQueueHighWater) blob_->on_drained();
    if (more) sock.when_flushed([self = shared_from_this()] { self->write_next(); });
  }

  // Rejects the upgrade with a plain HTTP error.
  asio::awaitable<void> reject(bhttp::status status, std::string body) {
    body += "\n";
    std::string res = fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{}",
        static_cast<unsigned>(status), std::string(bhttp::obsolete_reason(status)), body.size(), body);
    // Through the ServerStream (TLS or not), under the coalescing layer.
    co_await asio::async_write(sock().stream(), asio::buffer(res), kTuple);
    sock().close();
  }

  asio::awaitable<void> run(std::shared_ptr<WsSession> self, Request request, beast::flat_buffer leftover) {
    auto target = std::string(request.target());
    auto room_name = room_from_target(target, deps_.prefix);
    if (!room_name) {
      co_await reject(bhttp::status::bad_request, "invalid room name: " + room_name.error().message);
      co_return;
    }
    // Only the credential decides (sync/access.h): no other header, User-Agent
    // included, changes what this connection may do or what is checked for it.
    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    auto decision = decide_access(deps_.config, *room_name, query_param(target, "token"),
                                  request[bhttp::field::authorization], now.count());
    access_ = decision.access;
    // A peer server (peer token) verifies every chunk itself and is never made
    // to wait on a fetch, so servers cannot wait on each other.
    from_server_ = decision.peer;
    if (!decision.quota_key.empty() && deps_.quotas) quota_ = deps_.quotas->open(decision.quota_key, decision.quota);

    configure_stream(*ws_, deps_.config, sock().read_gate());
    ws_->set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(bhttp::field::server, "blobsync"); }));

    beast::error_code ec;
    if (leftover.size() == 0) {
      std::tie(ec) = co_await ws_->async_accept(request, kTuple);
    } else {
      // Bytes the HTTP server read past the head: replay head and bytes.
      std::ostringstream head;
      head << request.base();
      std::string replay = head.str();
      replay.append(static_cast<const char*>(leftover.data().data()), leftover.size());
      std::tie(ec) = co_await ws_->async_accept(asio::buffer(replay), kTuple);
    }
    if (ec) co_return;
    accepted_ = true;
    // What the read gate counts (ws_read_gate.h): the replayed bytes now sit in Beast's buffer
    // unparsed; control frames are parsed without a message.
    sock().read_gate().on_socket_bytes(leftover.size());
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    // The request head is needed no more (nor the HTTP read buffer, if it held bytes): idle connections are small.
    leftover = beast::flat_buffer();
    request = {};
    release_freed_memory();

    id_ = deps_.sessions.add(weak_from_this());
    // Until the read loop owns the session, every exit unregisters it.
    struct Unregister {
      SessionDeps& deps;
      ConnId id;
      bool armed = true;
      ~Unregister() {
        if (armed) deps.sessions.remove(id);
      }
    } unregister{deps_, id_};

    if (access_ == Access::kDenied) {
      co_await close_and_drain(decision.close_code, decision.reason.c_str());
      co_return;
    }
    if (deps_.sessions.size() > deps_.config.max_connections) {
      co_await close_and_drain(1013, "too many connections; try again later");
      co_return;
    }
    RoomManager::Refusal refused;
    room_ = deps_.rooms.acquire(*room_name, client_address(), &refused);
    if (!room_) {
      co_await close_and_drain(refused.code, refused.reason.c_str());
      co_return;
    }

    // Join; the room queues the greeting and then lets us read.
    joined_ = 0;
    room_->join(self, [self](bool ok) {
      asio::post(self->sock().get_executor(), [self, ok] {
        self->joined_ = ok ? 1 : -1;
        if (self->resume_) self->resume_->cancel();
      });
    });
    asio::steady_timer resume(sock().get_executor(), asio::steady_timer::time_point::max());
    resume_ = &resume;  // in this frame, not the session: an open connection keeps no timer
    while (joined_ == 0) co_await resume.async_wait(kTuple);
    resume_ = nullptr;
    if (joined_ < 0) {
      deps_.rooms.release(room_);  // before leave: the room may park once left
      room_->leave(id_);
      co_await close_and_drain(1011, "room unavailable");
      co_return;
    }

    // Reads continue as callbacks: an idle connection holds no coroutine
    // frames, only its pending read.
    unregister.armed = false;
    reading_ = true;
    start_read();
  }

  asio::awaitable<void> close_and_drain(std::uint16_t code, const char* reason) {
    close_started_ = true;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    auto [ec] = co_await ws_->async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason), kTuple);
    (void)ec;
    abort();
  }

  void start_read() {
    ws_->async_read(read_buf_, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }
  // After a message, a plain-TCP connection whose bytes Beast all parsed waits for its socket with a
  // 1-byte peek instead of a Beast read: a pending Beast read holds a 1.5 KiB buffer and ~1 KiB of
  // operation state, most of an idle connection (ws_read_gate.h). Not over TLS: its layer may hold
  // decrypted bytes the socket no longer shows. A peek, not async_wait: on the edge-triggered reactor a
  // wait misses bytes that came before it; a receive is tried at once. An error or EOF ends the loop
  // here (after a 0-byte peek the reactor would not retry a read at once: Beast's read would wait
  // for an edge that has passed). The session's first read is Beast's: it arms Beast's idle timer
  // (keep-alive pings, dead peers closed), which runs on without a read pending.
  void read_when_ready() {
    auto& sock = wire_->sock;
    if (sock.stream().is_tls() || !sock.read_gate().drained()) return start_read();
    dormancy_.peek_started(steady_ms());
    sock.stream().next_layer().socket().async_receive(  // its operation from the pool: it may wait for days
        asio::buffer(&peek_, 1), asio::socket_base::message_peek,
        asio::bind_allocator(ConnAllocator<void>{}, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
          self->dormancy_.peek_ended();
          if (ec) return self->on_read(ec);
          if (self->close_started_ && !self->ws_) return self->abort(), self->finish();  // close_dormant()'s answer
          self->when_awake([self] {
            if (self->close_started_) return self->finish();
            self->start_read();
          });
        }));
  }

  // Dormancy (ws_dormancy.h, architecture.md): with the peek pending Beast holds no byte, read, write
  // or close, so the stream goes; the sweep pings as Beast would and closes the socket unanswered.
  void on_sweep_due() {
    if (!reading_ || close_started_ || waking_) return;
    switch (dormancy_.step(steady_ms(), wire_->rx_ms, wire_->ping_ms)) {
      case Dormancy::Step::kNone:
        break;
      case Dormancy::Step::kSleep:
        ws_.reset();
        deps_.sessions.count_dormant(1);
        break;
      case Dormancy::Step::kPing:
        sock().async_write_some(asio::buffer(kPingFrame), [](boost::system::error_code, std::size_t) {});
        wire_->ping_ms = steady_ms();
        break;
      case Dormancy::Step::kTimeOut:
        spdlog::debug("sync: connection {}: no answer to a keep-alive ping; closing it", id_);
        abort();  // the pending peek fails: finish()
        break;
    }
  }

  // Runs `fn` once the session has a stream: at once, or after a wake-up.
  void when_awake(std::move_only_function<void()> fn) {
    if (waking_) {  // a wake-up is under way
      asio::post(sock().get_executor(),
                 [self = shared_from_this(), fn = std::move(fn)]() mutable { self->when_awake(std::move(fn)); });
    } else if (!ws_) {
      wake(std::move(fn));
    } else {
      fn();
    }
  }

  // A fresh stream over the same socket, opened by Beast's accept of a synthetic upgrade (101 swallowed).
  void wake(std::move_only_function<void()> fn) {
    if (dormancy_.dormant()) deps_.sessions.count_dormant(-1);
    dormancy_.woke();
    waking_ = true;
    emplace_stream(ws_, wire_);
    configure_stream(*ws_, deps_.config, sock().read_gate());
    wire_->swallow = true;
    ws_->async_accept(synthetic_upgrade(), [self = shared_from_this(), fn = std::move(fn)](beast::error_code ec) mutable {
      self->wire_->swallow = false;
      self->waking_ = false;
      if (ec) {
        spdlog::warn("sync: connection {}: waking its stream failed: {}", self->id_, ec.message());
        self->abort();
        return self->finish();
      }
      fn();
    });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      if (ec != websocket::error::closed && ec != asio::error::eof && ec != asio::error::operation_aborted &&
          ec != beast::error::timeout)
        spdlog::debug("sync: connection {}: {}", id_, ec.message());
      return finish();
    }
    auto data = read_buf_.data();
    sock().read_gate().on_message(data.size());
    std::vector<std::uint8_t> msg(static_cast<const std::uint8_t*>(data.data()),
                                  static_cast<const std::uint8_t*>(data.data()) + data.size());
    read_buf_.consume(read_buf_.size());
    read_buf_.shrink_to_fit();  // idle connections keep no read buffer
    dispatch(std::move(msg));
    if (close_started_) return finish();
    // Pace the peer: no next read while the room or the disk is behind.
    if (behind()) {
      paused_ = true;
      // Checked again: the room's done() counts down first, then looks at paused_ (both seq_cst), so one sees the other.
      if (behind()) return;
      paused_ = false;
    }
    read_when_ready();
  }

  bool behind() const {
    return in_room_ >= kMaxQueuedMessages || in_room_bytes_ >= deps_.config.max_queued_bytes ||
           (blob_ && blob_->buffered_bytes() > kMaxBufferedChunks);
  }

  // The room or the disk caught up: read again if paused.
  void maybe_resume() {
    if (!paused_ || behind()) return;
    paused_ = false;
    if (close_started_) return finish();
    read_when_ready();
  }

  // The read loop ended: leave the room, unregister. Runs once.
  void finish() {
    if (!reading_) return;
    reading_ = false;
    if (dormancy_.dormant()) deps_.sessions.count_dormant(-1);
    dormancy_.woke();
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      queue_ = {};
      queued_bytes_ = 0;
    }
    if (blob_) blob_->close();
    blob_.reset();  // its hooks hold this session
    deps_.rooms.release(room_);  // before leave: the room may park once left
    room_->leave(id_);
    deps_.sessions.remove(id_);
  }

  void dispatch(std::vector<std::uint8_t> msg) {
    if (!msg.empty() && msg[0] >= protocol::kFirstBlobMsg && msg[0] <= protocol::kLastBlobMsg) {
      if (!blob_) make_blob_channel();
      blob_->on_frame(std::move(msg));
      return;
    }
    const std::size_t n = msg.size();
    ++in_room_, in_room_bytes_ += n;
    // On the room's strand: a hop to this connection's only if its reads wait.
    room_->message(id_, access_ == Access::kReadOnly, std::move(msg), [self = shared_from_this(), n] {
      --self->in_room_, self->in_room_bytes_ -= n;
      if (self->paused_) asio::post(self->sock().get_executor(), [self] { self->maybe_resume(); });
    });
  }

  void make_blob_channel() {
    BlobChannel::ConnectionDeps hooks;
    std::weak_ptr<WsSession> weak = weak_from_this();
    hooks.send = [weak](SharedBytes m) {
      if (auto s = weak.lock()) s->send({std::move(m)});
    };
    hooks.post = [self = shared_from_this()](std::function<void()> fn) {
      asio::post(self->sock().get_executor(), [self, fn = std::move(fn)] {
        fn();
        // Chunk writes finishing may unblock a paced read loop.
        self->maybe_resume();
      });
    };
    hooks.queued_bytes = [weak]() -> std::size_t {
      auto s = weak.lock();
      return s ? s->queued_bytes() : 0;
    };
    hooks.announce = [room = room_](const AnnouncedBlob& blob, std::function<void(Result<>)> done) {
      room->announce(blob, std::move(done));
    };
    if (deps_.blobs.fetch_missing && !from_server_)
      hooks.fetch_missing = [fetch = deps_.blobs.fetch_missing, room = room_->name()](
                                const Digest& hash, std::function<void(Result<>)> done) {
        fetch(room, hash, std::move(done));
      };
    hooks.hold = room_holder(room_->name(), deps_.blobs.config.url);
    hooks.read_only = access_ == Access::kReadOnly;
    hooks.peer = from_server_;
    hooks.quota = quota_;
    hooks.listed = [room = room_](auto hashes, auto done) { room->listed(std::move(hashes), std::move(done)); };
    blob_ = std::make_shared<BlobChannel>(deps_.blobs, std::move(hooks));
  }

  SessionDeps& deps_;
  std::shared_ptr<void> owner_;
  std::shared_ptr<Wire> wire_;  // the socket, shared with Beast's stream (ws_wire.h)
  std::optional<Stream> ws_;    // empty while dormant
  Dormancy dormancy_;
  bool waking_ = false;  // a fresh stream is being brought to the open state
  asio::steady_timer* resume_ = nullptr;  // run()'s, cancelled when the room let us join
  beast::flat_buffer read_buf_;
  char peek_ = 0;  // read_when_ready()'s
  bool reading_ = false;  // the read loop runs (finish() not yet called)
  std::atomic<bool> paused_{false};  // no read pending: waiting for the room or the disk (set on the strand)
  ConnId id_ = 0;
  Access access_ = Access::kDenied;
  std::shared_ptr<Room> room_;
  std::shared_ptr<BlobChannel> blob_;
  std::shared_ptr<TokenQuota> quota_;  // the room token's (sync/token_quota.h), if any
  bool accepted_ = false;
  bool from_server_ = false;
  bool close_started_ = false;
  int joined_ = 0;
  // Messages (and their bytes) waiting for the room: counted up here, down by the room.
  std::atomic<std::size_t> in_room_{0}, in_room_bytes_{0};
  std::shared_ptr<void> slot_;  // the HTTP server's connection slot, released with the session

  mutable std::mutex mu_;
  std::vector<SharedBytes> queue_;  // guarded by mu_; a vector: an empty deque costs 576 bytes
  std::size_t queued_bytes_ = 0;   // guarded by mu_
  bool writing_ = false;           // guarded by mu_
  bool closed_ = false;            // guarded by mu_
  bool open_ = false;              // guarded by mu_: accepted (try_send may write)
  std::atomic<std::int64_t> last_send_ms_{0};
};

}  // namespace

void start_ws_session(SessionDeps& deps, std::unique_ptr<http::UpgradeContext> ctx) {
  auto request = std::move(ctx->request);
  auto leftover = std::move(ctx->buffer);
  if (leftover.size() == 0) leftover = beast::flat_buffer();  // first: Beast's stream may go where it was
  auto session = std::allocate_shared<WsSession>(ConnAllocator<WsSession>{}, deps, std::move(ctx));  // conn_pool.h
  session->start(std::move(request), std::move(leftover));
}

}  // namespace blobsync::sync
