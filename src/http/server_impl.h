// Server::Impl (internal to http; included only by server*.cpp): the state
// of the listening server and the steps it serves a connection with.
//   server.cpp           the port, connections (accept, keep-alive loop,
//                        limits, shutdown and drain)
//   server_dispatch.cpp  one request: head -> Request, upgrade hand-over,
//                        route, buffered or streamed body, respond
//   server_response.cpp  writing a Response (sendfile(2) for blobs)
// See server.h for the contract.
//
// Thread safety: a Conn and an Exchange are used on their connection's strand
// only; conns and next_id are guarded by mu; stopping is atomic.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "http/conn_limits.h"
#include "http/http_types.h"
#include "http/origin.h"
#include "http/router.h"
#include "http/server.h"
#include "http/server_stream.h"

namespace blobsync::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;

inline constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
inline constexpr std::size_t kChunk = 256 * 1024;

// The parser a request head is read with; a body parser is built from it.
using HeadParser = bhttp::request_parser<bhttp::empty_body>;

// One accepted connection.
struct Conn : std::enable_shared_from_this<Conn> {
  explicit Conn(tcp::socket s) : stream(std::move(s)) {}
  ServerStream stream;  // plain TCP, or TLS once session() has shaken hands
  beast::flat_buffer buffer;
  std::vector<std::byte> chunk;
  std::string remote;
  std::uint64_t id = 0;
  bool idle = true;         // waiting for a request; read/written on the strand only
  bool handed_over = false; // the stream now belongs to an upgrade handler
  std::shared_ptr<void> slot;  // its place under the connection limits (moves on upgrade)
};

// The pace of a body moving either way: never silent for `silence`
// (body_timeout), and at least `rate` bytes/s averaged over each `window`
// (min_transfer_rate, min_transfer_window), so a trickle cannot hold a
// connection and its buffers for ever.
class Pace {
 public:
  using clock = std::chrono::steady_clock;
  enum class Verdict { kOk, kSilent, kSlow };
  Pace(std::uint64_t rate, clock::duration window, clock::duration silence)
      : rate_(rate), window_(window), silence_(silence) {}
  // How long the next wait may last before check() must look again.
  clock::duration next_wait() const {
    auto now = clock::now();
    auto until = last_ + silence_;
    if (rate_ > 0) until = std::min(until, start_ + window_);
    return std::max<clock::duration>(until - now, std::chrono::milliseconds(1));
  }
  void moved(std::uint64_t n) {
    if (n == 0) return;
    bytes_ += n;
    last_ = clock::now();
  }
  // After a wait or a move: whether the transfer may go on. A window that
  // ended with enough bytes starts the next one.
  Verdict check() {
    auto now = clock::now();
    if (now - last_ >= silence_) return Verdict::kSilent;
    if (rate_ == 0 || now - start_ < window_) return Verdict::kOk;
    double seconds = std::chrono::duration<double>(now - start_).count();
    if (static_cast<double>(bytes_) < static_cast<double>(rate_) * seconds) return Verdict::kSlow;
    start_ = now;
    bytes_ = 0;
    return Verdict::kOk;
  }

 private:
  std::uint64_t rate_;
  clock::duration window_, silence_;
  clock::time_point start_ = clock::now(), last_ = start_;
  std::uint64_t bytes_ = 0;
};

// Cancels (rather than closes, as tcp_stream's expiry would) the connection's
// pending operation when it takes longer than the armed duration, so the
// caller can still answer. Late timer handlers are ignored by generation.
class StallGuard {
 public:
  explicit StallGuard(Conn& c) : conn_(c.weak_from_this()), timer_(c.stream.get_executor()) {}
  void arm(std::chrono::steady_clock::duration d) {
    state_->fired = false;
    auto gen = ++state_->gen;
    timer_.expires_after(d);
    timer_.async_wait([conn = conn_, state = state_, gen](const boost::system::error_code& ec) {
      if (ec || gen != state->gen) return;
      state->fired = true;
      if (auto c = conn.lock()) {
        boost::system::error_code ignored;
        beast::get_lowest_layer(c->stream).socket().cancel(ignored);
      }
    });
  }
  // Returns whether the timer fired during the operation.
  bool disarm() {
    ++state_->gen;
    timer_.cancel();
    return state_->fired;
  }

 private:
  struct State {
    std::uint64_t gen = 0;
    bool fired = false;
  };
  std::weak_ptr<Conn> conn_;
  asio::steady_timer timer_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

// One request being served: what handle()'s steps fill in, and what the
// access log and metrics record at the end.
struct Exchange {
  Request req;
  Response resp;
  std::string route_name = "unknown";
  std::uint64_t bytes_in = 0;
  bool body_unread = false;  // some of the request body is still on the socket
  bool upload = false;       // the route is an upload (metrics)
};

struct Server::Impl {
  Impl(const ServerConfig& c, const Router& r, Metrics& m, AccessLog& l)
      : cfg(c), router(r), metrics(m), log(l), ioc(static_cast<int>(c.threads)), blocking(2), commits(kCommitThreads),
        images(c.image_workers + kImageWaiters) {}

  ServerConfig cfg;
  const Router& router;
  Metrics& metrics;
  AccessLog& log;
  asio::io_context ioc;
  asio::thread_pool blocking;  // password hashing and other slow CPU work
  // Upload commits (BodySink::finish): fdatasync, rename, directory fsync and
  // a metadata transaction, i.e. mostly waiting for the disk. Off the I/O
  // threads, and more of them than cores so that concurrent uploads' flushes
  // overlap (measured, 16 KiB uploads x 32 clients: finish() on the 2 I/O
  // threads capped the server at 2 commits in flight).
  static constexpr std::size_t kCommitThreads = 16;
  asio::thread_pool commits;
  // Derived images (Route::images): never on the I/O threads. At most
  // image_workers of these threads render (ImageService's slots); the
  // others serve cache hits and wait for renders in flight.
  static constexpr std::size_t kImageWaiters = 4;
  asio::thread_pool images;
  tcp::acceptor acceptor{ioc};
  asio::signal_set signals{ioc};
  std::atomic<bool> stopping{false};
  std::vector<std::pair<std::string, UpgradeHandler>> upgrades;
  AcceptScope accept_scope;  // may be empty
  std::optional<OriginPolicy> origins;  // set by listen(): this server's own origin needs the bound port
  std::shared_ptr<TlsContext> tls;  // set by listen() when tls_cert is; null: plain HTTP
  asio::signal_set reload_signal{ioc};  // SIGHUP: reload the certificate
  std::shared_ptr<ConnectionLimits> limits =
      std::make_shared<ConnectionLimits>(cfg.max_connections, cfg.max_connections_per_ip);
  Pace pace() const { return Pace(cfg.min_transfer_rate, cfg.min_transfer_window, cfg.body_timeout); }

  std::mutex mu;
  std::unordered_map<std::uint64_t, std::weak_ptr<Conn>> conns;  // guarded by mu
  std::uint64_t next_id = 0;                                     // guarded by mu

  // Connections (server.cpp).
  awaitable<void> accept_loop();
  // Takes one accepted connection (it gets a slot and a session) or refuses it (503, closed).
  void admit(tcp::socket socket);
  awaitable<void> session(std::shared_ptr<Conn> c);
  // TLS: reads the ClientHello and shakes hands within header_timeout;
  // answers plain HTTP with a 400. Returns whether the connection goes on.
  awaitable<bool> tls_handshake(Conn& c);
  void wait_reload();
  awaitable<void> linger_close(Conn& c);
  awaitable<bool> send_continue(Conn& c);
  void begin_shutdown();
  awaitable<void> drain();
  void for_each_conn(const std::function<void(Conn&)>& fn);

  // One request (server_dispatch.cpp). Each awaitable<bool> step returns
  // false when the connection must be dropped without an answer.
  // Handles one request whose head is in `hp`. Returns whether to keep the connection.
  awaitable<bool> handle(Conn& c, HeadParser& hp);
  // Browsers: refuses a request whose Origin is not allowed (403) and
  // answers a CORS preflight; returns whether it answered (in x.resp).
  // `allowed` gets the request's Origin when it is allowed.
  bool check_origin(const Request& req, Exchange& x, std::optional<std::string>& allowed);
  // Hands the connection to an upgrade handler if the request asks for one
  // under its prefix; returns whether it did.
  bool hand_over_upgrade(Conn& c, HeadParser& hp, const Request& req);
  // A route with a buffered body: reads it (up to max_json_bytes), calls the handler.
  awaitable<bool> serve_buffered(Conn& c, HeadParser& hp, const Route& route, bool wants_continue, Exchange& x);
  awaitable<Response> call_handler(const Route& route, Request& req);
  // A route with a streamed body: starts the sink, streams the body into it, commits.
  awaitable<bool> serve_streamed(Conn& c, HeadParser& hp, const Route& route, bool wants_continue, Exchange& x);
  // Streams the request body into `sink`; an error Response if it fails.
  awaitable<std::optional<Response>> stream_body(Conn& c, HeadParser& hp, BodySink& sink, Exchange& x);
  awaitable<std::optional<Response>> stream_fixed_body(Conn& c, BodySink& sink, StallGuard& stall, Exchange& x);
  awaitable<std::optional<Response>> stream_parsed_body(Conn& c, HeadParser& hp, BodySink& sink, StallGuard& stall,
                                                        Exchange& x);
  // Writes the answer, records the request. Returns whether to keep the connection.
  awaitable<bool> respond(Conn& c, Exchange& x, std::chrono::steady_clock::time_point start, bool keep_alive,
                          bool is_head, unsigned version);

  // Responses (server_response.cpp).
  awaitable<std::pair<bool, std::uint64_t>> write_response(Conn& c, Response& r, bool head, bool keep_alive,
                                                           unsigned version);
  awaitable<bool> send_blob(Conn& c, Response& r, std::uint64_t& sent);
  // A blob's head with MSG_MORE (plain TCP), then send_blob().
  awaitable<bool> send_pushed(Conn& c, Response& r, const std::string& head, std::uint64_t& sent);
};

}  // namespace blobsync::http
