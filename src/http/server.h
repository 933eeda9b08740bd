// Server: the one listening port. Boost.Beast on Asio with C++20 coroutines,
// `threads` I/O threads, one coroutine per connection (so a slow client costs
// a coroutine frame, never a thread).
//
// Limits: max_connections and max_connections_per_ip, HTTP and WebSocket
// together (extra connections get 503 and are closed), max_header_bytes
// (431), header_timeout for the whole request head (stops slowloris),
// idle_timeout between keep-alive requests, body_timeout for any silence
// while a body moves in either direction and min_transfer_rate for a
// streamed body or blob response that trickles (408, or the response cut). Response bodies that come
// from the store go out with sendfile(2). A request (or upgrade) with an
// Origin header that allowed_origins does not admit gets 403 before it is
// routed or handed over; CORS headers go on /xrpc/ and /blobs/ (origin.h).
//
// TLS: with tls_cert/tls_key every connection is TLS (server_stream.h): the
// handshake must finish within header_timeout, plain HTTP gets a 400 saying
// the port speaks TLS, and SIGHUP reloads the certificate for new
// connections (a broken file keeps the old one; the error is logged).
//
// Shutdown: on SIGTERM/SIGINT or stop(), the server stops accepting, closes
// idle connections, lets in-flight requests finish for up to
// shutdown_timeout, then closes the rest (an interrupted upload is discarded
// by its sink), and run() returns.
//
// Thread safety: listen(), add_upgrade_handler() and run() are called by one
// thread; stop() may be called from any thread or a signal-safe context.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "http/config.h"

namespace boost::asio {
class io_context;
}

namespace blobsync::http {

class Router;
class Metrics;
class AccessLog;
struct UpgradeContext;  // upgrade.h (Beast types)

using UpgradeHandler = std::function<void(std::unique_ptr<UpgradeContext>)>;
using AcceptScope = std::function<void(const std::function<void()>&)>;

class Server {
 public:
  Server(const ServerConfig& config, const Router& router, Metrics& metrics, AccessLog& log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the TLS certificate (if configured) and binds the port. Returns the
  // bound address "HOST:PORT" (the real port when the configured one was 0).
  // Errors: kIOError (address in use...), kInvalidArgument (TLS files).
  Result<std::string> listen();

  // Requests under `path_prefix` that ask for `Upgrade: websocket` are handed
  // to `handler` (called on the connection's strand). REQUIRES: before run().
  void add_upgrade_handler(std::string path_prefix, UpgradeHandler handler);
  // Runs each accept inside `scope` (which must call its argument once, on
  // the same thread): Asio makes a socket's reactor state there and keeps it
  // on its free list for the process's life, so the sync layer puts it in its
  // pool (sync/conn_pool.h) instead of between the heap's short-lived
  // objects, where 1,000 of them kept ~1.6 MiB of freed pages resident
  // (docs/performance.md). REQUIRES: before run().
  void set_accept_scope(AcceptScope scope);

  // Serves until SIGTERM/SIGINT or stop(), then drains. REQUIRES: listen() succeeded.
  Result<> run();
  void stop();
  // The I/O threads' io_context (the WebSocket rooms run there too).
  boost::asio::io_context& io_context();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace blobsync::http
