// WebSocket sessions (see ws_session.h). The only file with Beast websocket.
#include "sync/ws_session.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/append.hpp>
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
#include <sstream>

#include "http/upgrade.h"
#include "sync/access.h"
#include "sync/blob_channel.h"
#include "sync/room.h"
#include "sync/room_manager.h"
#include "sync/room_name.h"
#include "sync/sync_config.h"

namespace blobsync::sync {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace bhttp = beast::http;

// CoalescingSocket: the WebSocket's next layer. Writes are copied into a
// buffer and completed at once; the buffer goes to the kernel in one send
// per round trip, so a broadcast burst to a connection costs one syscall,
// not one per message. At most kHighWater bytes are buffered: beyond that a
// write waits for the kernel (real back-pressure, and the session's queue
// limit then applies). Teardown flushes first so the close frame goes out.
// All on the connection's strand.
class CoalescingSocket {
 public:
  using executor_type = asio::any_io_executor;
  using next_layer_type = asio::ip::tcp::socket;
  static constexpr std::size_t kHighWater = 256u << 10;

  explicit CoalescingSocket(asio::ip::tcp::socket s) : sock_(std::move(s)) {}
  executor_type get_executor() noexcept { return sock_.get_executor(); }
  next_layer_type& next_layer() noexcept { return sock_; }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& b, Token&& token) {
    return sock_.async_read_some(b, std::forward<Token>(token));
  }

  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const Buffers& bufs) {
          auto ex = sock_.get_executor();
          auto complete = [ex, h = std::move(handler)](boost::system::error_code ec, std::size_t n) mutable {
            asio::post(ex, asio::append(std::move(h), ec, n));
          };
          if (error_) return complete(error_, 0);
          std::size_t n = asio::buffer_size(bufs);
          if (pending_.size() >= kHighWater) {
            std::vector<std::uint8_t> copy(n);
            asio::buffer_copy(asio::buffer(copy), bufs);
            waiting_ = [this, copy = std::move(copy), complete = std::move(complete)](
                           boost::system::error_code ec) mutable {
              if (!ec) pending_.insert(pending_.end(), copy.begin(), copy.end());
              complete(ec, ec ? 0 : copy.size());
            };
            return;
          }
          std::size_t at = pending_.size();
          pending_.resize(at + n);
          asio::buffer_copy(asio::buffer(pending_.data() + at, n), bufs);
          flush();
          complete({}, n);
        },
        token, buffers);
  }

  // Runs fn once everything written so far is in the kernel (or failed).
  void when_flushed(std::move_only_function<void()> fn) {
    if (!flushing_ && pending_.empty()) return fn();
    drained_.push_back(std::move(fn));
  }

 private:
  void flush() {
    if (flushing_ || pending_.empty()) return;
    flushing_ = true;
    std::swap(pending_, sending_);
    asio::async_write(sock_, asio::buffer(sending_), [this](boost::system::error_code ec, std::size_t) {
      flushing_ = false;
      sending_.clear();
      if (sending_.capacity() > (64u << 10)) sending_ = {};  // idle connections stay small
      if (ec) {
        error_ = ec;
        pending_.clear();
      }
      if (waiting_) std::exchange(waiting_, nullptr)(error_);
      flush();
      if (!flushing_ && pending_.empty())
        for (auto& fn : std::exchange(drained_, {})) fn();
    });
  }

  asio::ip::tcp::socket sock_;
  std::vector<std::uint8_t> pending_, sending_;
  bool flushing_ = false;
  boost::system::error_code error_;
  std::move_only_function<void(boost::system::error_code)> waiting_;
  std::vector<std::move_only_function<void()>> drained_;
};

// WebSocket teardown for CoalescingSocket (found by argument-dependent lookup).
void teardown(beast::role_type role, CoalescingSocket& s, boost::system::error_code& ec) {
  websocket::teardown(role, s.next_layer(), ec);
}
template <class Handler>
void async_teardown(beast::role_type role, CoalescingSocket& s, Handler&& handler) {
  s.when_flushed([role, &s, h = std::forward<Handler>(handler)]() mutable {
    websocket::async_teardown(role, s.next_layer(), std::move(h));
  });
}

ConnId SessionRegistry::add(std::weak_ptr<Connection> conn) {
  std::lock_guard lock(mu_);
  ConnId id = next_++;
  conns_.emplace(id, std::move(conn));
  return id;
}

void SessionRegistry::remove(ConnId id) {
  std::lock_guard lock(mu_);
  conns_.erase(id);
}

std::size_t SessionRegistry::size() const {
  std::lock_guard lock(mu_);
  return conns_.size();
}

void SessionRegistry::close_all(std::uint16_t code, std::string_view reason) {
  std::vector<std::shared_ptr<Connection>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, weak] : conns_)
      if (auto c = weak.lock()) all.push_back(std::move(c));
  }
  for (auto& c : all) c->close(code, reason);
}

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
  WsSession(SessionEnv& env, std::unique_ptr<http::UpgradeContext> ctx)
      : env_(env),
        owner_(env.owner.lock()),
        request_(std::move(ctx->request)),
        leftover_(std::move(ctx->buffer)),
        ws_(ctx->stream.release_socket()),
        resume_(ws_.get_executor()) {}

  ~WsSession() override = default;

  void start() { asio::co_spawn(ws_.get_executor(), run(shared_from_this()), asio::detached); }

  // ---- Connection ----
  ConnId id() const override { return id_; }

  void send(std::vector<SharedBytes> messages) override {
    bool start_writer = false, too_slow = false;
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      for (auto& m : messages) {
        queued_bytes_ += m->size();
        queue_.push_back(std::move(m));
      }
      last_send_ms_.store(steady_ms(), std::memory_order_relaxed);
      // One message may always go out, however large; beyond that the queue is bounded.
      if (queued_bytes_ > env_.config.max_write_queue_bytes && queue_.size() > 1) {
        closed_ = true;
        too_slow = true;
      } else if (!writing_) {
        writing_ = true;
        start_writer = true;
      }
    }
    if (too_slow) {
      spdlog::warn("sync: connection {} reads too slowly ({} bytes queued); closing it", id_, queued_bytes());
      asio::post(ws_.get_executor(), [self = shared_from_this()] { self->abort(); });
    } else if (start_writer) {
      asio::post(ws_.get_executor(), [self = shared_from_this()] { self->write_next(); });
    }
  }

  void close(std::uint16_t code, std::string_view reason) override {
    asio::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::string(reason)] {
      self->close_on_strand(code, reason);
    });
  }

  std::int64_t last_send_ms() const override { return last_send_ms_.load(std::memory_order_relaxed); }

 private:
  std::size_t queued_bytes() const {
    std::lock_guard lock(mu_);
    return queued_bytes_;
  }

  void abort() {
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws_).shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close(ignored);
    resume_.cancel();
  }

  void close_on_strand(std::uint16_t code, const std::string& reason) {
    if (close_started_ || !accepted_) return;
    close_started_ = true;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason), [self = shared_from_this()](beast::error_code) {
      self->abort();
    });
  }

  void write_next() {
    SharedBytes msg;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty() || close_started_ || !accepted_) {
        writing_ = false;
        return;
      }
      msg = std::move(queue_.front());
      queue_.pop_front();
    }
    ws_.async_write(asio::buffer(*msg), [self = shared_from_this(), msg](beast::error_code ec, std::size_t) {
      std::size_t left;
      {
        std::lock_guard lock(self->mu_);
        self->queued_bytes_ -= msg->size();
        left = self->queued_bytes_;
        if (ec) {
          self->closed_ = true;
          self->writing_ = false;
          self->queue_.clear();
          self->queued_bytes_ = 0;
        }
      }
      if (ec) return self->abort();
      if (self->blob_ && left < BlobChannel::kQueueHighWater) self->blob_->on_drained();
      self->write_next();
    });
  }

  // Rejects the upgrade with a plain HTTP error.
  asio::awaitable<void> reject(bhttp::status status, std::string body) {
    body += "\n";
    std::string res = fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{}",
        static_cast<unsigned>(status), std::string(bhttp::obsolete_reason(status)), body.size(), body);
    auto& sock = beast::get_lowest_layer(ws_);
    co_await asio::async_write(sock, asio::buffer(res), kTuple);
    boost::system::error_code ignored;
    sock.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    sock.close(ignored);
  }

  asio::awaitable<void> run(std::shared_ptr<WsSession> self) {
    auto target = std::string(request_.target());
    auto room_name = room_from_target(target, env_.prefix);
    if (!room_name) {
      co_await reject(bhttp::status::bad_request, "invalid room name: " + room_name.error().message);
      co_return;
    }
    auto authorization = std::string(request_[bhttp::field::authorization]);
    // Another server's mesh fetching a blob (User-Agent blobsync-mesh/...): never
    // replicate on fetch for it, so servers cannot wait on each other.
    from_server_ = std::string_view(request_[bhttp::field::user_agent]).starts_with("blobsync-mesh");
    access_ = decide_access(env_.config, query_param(target, "token"), authorization);

    ws_.binary(true);
    ws_.auto_fragment(false);
    ws_.read_message_max(env_.config.max_message_bytes);
    ws_.write_buffer_bytes(256);  // only used for masking/fragmenting, which a server never does
    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = std::chrono::seconds(30);
    timeouts.idle_timeout = std::chrono::seconds(60);  // a ping after 30 s of silence, closed 30 s later
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(bhttp::field::server, "blobsync"); }));

    beast::error_code ec;
    if (leftover_.size() == 0) {
      std::tie(ec) = co_await ws_.async_accept(request_, kTuple);
    } else {
      // Bytes the HTTP server read past the head: replay head and bytes.
      std::ostringstream head;
      head << request_.base();
      std::string replay = head.str();
      replay.append(static_cast<const char*>(leftover_.data().data()), leftover_.size());
      std::tie(ec) = co_await ws_.async_accept(asio::buffer(replay), kTuple);
    }
    if (ec) co_return;
    accepted_ = true;
    // The HTTP server's read buffer (16 KiB) and the request head are not
    // needed any more: free them, idle connections should be small.
    leftover_ = beast::flat_buffer();
    request_ = {};

    id_ = env_.sessions.add(weak_from_this());
    struct Unregister {
      SessionEnv& env;
      ConnId id;
      ~Unregister() { env.sessions.remove(id); }
    } unregister{env_, id_};

    if (access_ == Access::kDenied) {
      co_await close_and_drain(kCloseUnauthorized, "unauthorized: missing or unknown token");
      co_return;
    }
    if (env_.sessions.size() > env_.config.max_connections) {
      co_await close_and_drain(1013, "too many connections; try again later");
      co_return;
    }
    room_ = env_.rooms.acquire(*room_name);
    if (!room_) {
      co_await close_and_drain(1001, "server shutting down");
      co_return;
    }

    // Join; the room queues the greeting and then lets us read.
    joined_ = 0;
    room_->join(self, [self](bool ok) {
      asio::post(self->ws_.get_executor(), [self, ok] {
        self->joined_ = ok ? 1 : -1;
        self->resume_.cancel();
      });
    });
    while (joined_ == 0) {
      resume_.expires_at(asio::steady_timer::time_point::max());
      co_await resume_.async_wait(kTuple);
    }
    if (joined_ < 0) {
      room_->leave(id_);
      env_.rooms.release(room_);
      co_await close_and_drain(1011, "room unavailable");
      co_return;
    }

    co_await read_loop();

    {
      std::lock_guard lock(mu_);
      closed_ = true;
      queue_.clear();
      queued_bytes_ = 0;
    }
    if (blob_) blob_->close();
    blob_.reset();  // its hooks hold this session
    room_->leave(id_);
    env_.rooms.release(room_);
  }

  asio::awaitable<void> close_and_drain(std::uint16_t code, const char* reason) {
    close_started_ = true;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    auto [ec] = co_await ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason), kTuple);
    (void)ec;
    abort();
  }

  asio::awaitable<void> read_loop() {
    beast::flat_buffer buffer;
    for (;;) {
      auto [ec, n] = co_await ws_.async_read(buffer, kTuple);
      if (ec) {
        if (ec != websocket::error::closed && ec != asio::error::eof && ec != asio::error::operation_aborted &&
            ec != beast::error::timeout)
          spdlog::debug("sync: connection {}: {}", id_, ec.message());
        co_return;
      }
      auto data = buffer.data();
      std::vector<std::uint8_t> msg(static_cast<const std::uint8_t*>(data.data()),
                                    static_cast<const std::uint8_t*>(data.data()) + data.size());
      buffer.consume(buffer.size());
      if (buffer.capacity() > (64u << 10)) buffer = beast::flat_buffer();  // idle connections stay small
      dispatch(std::move(msg));
      // Pace the peer: wait while the room or the disk is behind.
      while (!close_started_ && (in_room_ >= kMaxQueuedMessages || (blob_ && blob_->buffered_bytes() > kMaxBufferedChunks))) {
        resume_.expires_at(asio::steady_timer::time_point::max());
        co_await resume_.async_wait(kTuple);
      }
      if (close_started_) co_return;
    }
  }

  void dispatch(std::vector<std::uint8_t> msg) {
    if (!msg.empty() && msg[0] >= kFirstBlobMsg && msg[0] <= kLastBlobMsg) {
      if (!blob_) make_blob_channel();
      blob_->on_frame(std::move(msg));
      return;
    }
    ++in_room_;
    room_->message(id_, access_ == Access::kReadOnly, std::move(msg), [self = shared_from_this()] {
      asio::post(self->ws_.get_executor(), [self] {
        if (self->in_room_-- == kMaxQueuedMessages) self->resume_.cancel();
      });
    });
  }

  void make_blob_channel() {
    BlobChannel::Hooks hooks;
    std::weak_ptr<WsSession> weak = weak_from_this();
    hooks.send = [weak](SharedBytes m) {
      if (auto s = weak.lock()) s->send({std::move(m)});
    };
    hooks.post = [self = shared_from_this()](std::function<void()> fn) {
      asio::post(self->ws_.get_executor(), [self, fn = std::move(fn)] {
        fn();
        // Chunk writes finishing may unblock a paced read loop.
        if (self->blob_ && self->blob_->buffered_bytes() <= kMaxBufferedChunks) self->resume_.cancel();
      });
    };
    hooks.queued_bytes = [weak]() -> std::size_t {
      auto s = weak.lock();
      return s ? s->queued_bytes() : 0;
    };
    hooks.announce = [room = room_](const AnnouncedBlob& blob, std::function<void(Result<>)> done) {
      room->announce(blob, std::move(done));
    };
    if (env_.blobs.fetch_missing && !from_server_)
      hooks.fetch_missing = [fetch = env_.blobs.fetch_missing, room = room_->name()](
                                const Digest& hash, std::function<void(Result<>)> done) {
        fetch(room, hash, std::move(done));
      };
    hooks.read_only = access_ == Access::kReadOnly;
    blob_ = std::make_shared<BlobChannel>(env_.blobs, std::move(hooks));
  }

  SessionEnv& env_;
  std::shared_ptr<void> owner_;
  bhttp::request<bhttp::string_body> request_;
  beast::flat_buffer leftover_;
  websocket::stream<CoalescingSocket> ws_;
  asio::steady_timer resume_;  // cancelled to wake the read loop
  ConnId id_ = 0;
  Access access_ = Access::kDenied;
  std::shared_ptr<Room> room_;
  std::shared_ptr<BlobChannel> blob_;
  bool accepted_ = false;
  bool from_server_ = false;
  bool close_started_ = false;
  int joined_ = 0;
  std::size_t in_room_ = 0;

  mutable std::mutex mu_;
  std::deque<SharedBytes> queue_;  // guarded by mu_
  std::size_t queued_bytes_ = 0;   // guarded by mu_
  bool writing_ = false;           // guarded by mu_
  bool closed_ = false;            // guarded by mu_
  std::atomic<std::int64_t> last_send_ms_{0};
};

}  // namespace

void start_ws_session(SessionEnv& env, std::unique_ptr<http::UpgradeContext> ctx) {
  std::make_shared<WsSession>(env, std::move(ctx))->start();
}

}  // namespace blobsync::sync
