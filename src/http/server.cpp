// The only translation unit that includes Beast/Asio for serving (besides
// upgrade.h users). See server.h for the contract.
#include "http/server.h"

#include <sys/sendfile.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <csignal>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http/access_log.h"
#include "http/metrics.h"
#include "http/request_target.h"
#include "http/router.h"
#include "http/upgrade.h"

namespace blobsync::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kChunk = 256 * 1024;

// One accepted connection.
struct Conn : std::enable_shared_from_this<Conn> {
  explicit Conn(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::vector<std::byte> chunk;
  std::string remote;
  std::uint64_t id = 0;
  bool idle = true;         // waiting for a request; read/written on the strand only
  bool handed_over = false; // the stream now belongs to an upgrade handler
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

bool is_token_start(const beast::flat_buffer& buf) {
  // A pipelined request starts with a method token and a space.
  auto data = buf.data();
  auto* p = static_cast<const char*>(data.data());
  std::size_t n = data.size();
  std::size_t i = 0;
  while (i < n && i < 16 && p[i] >= 'A' && p[i] <= 'Z') ++i;
  if (i == n) return i > 0;  // could still become one
  return i > 0 && p[i] == ' ';
}

bool header_has_token(std::string_view value, std::string_view token) {
  // Comma-separated, case-insensitive.
  std::size_t start = 0;
  while (start <= value.size()) {
    auto comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    auto item = value.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (beast::iequals(item, token)) return true;
    start = comma + 1;
  }
  return false;
}

}  // namespace

struct Server::Impl {
  Impl(const ServerConfig& c, const Router& r, Metrics& m, AccessLog& l)
      : cfg(c), router(r), metrics(m), log(l), ioc(static_cast<int>(c.threads)), blocking(2), commits(kCommitThreads) {}

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
  tcp::acceptor acceptor{ioc};
  asio::signal_set signals{ioc};
  std::atomic<bool> stopping{false};
  std::vector<std::pair<std::string, UpgradeHandler>> upgrades;

  std::mutex mu;
  std::unordered_map<std::uint64_t, std::weak_ptr<Conn>> conns;  // guarded by mu
  std::uint64_t next_id = 0;                                     // guarded by mu

  awaitable<void> accept_loop();
  awaitable<void> session(std::shared_ptr<Conn> c);
  // Handles one request whose head is in `hp`. Returns whether to keep the connection.
  awaitable<bool> handle(Conn& c, bhttp::request_parser<bhttp::empty_body>& hp);
  awaitable<std::pair<bool, std::uint64_t>> write_response(Conn& c, Response& r, bool head, bool keep_alive,
                                                           unsigned version);
  awaitable<bool> send_blob(Conn& c, Response& r, std::uint64_t& sent);
  awaitable<void> linger_close(Conn& c);
  awaitable<bool> send_continue(Conn& c);
  void begin_shutdown();
  awaitable<void> drain();
  void for_each_conn(const std::function<void(Conn&)>& fn);
};

Server::Server(const ServerConfig& config, const Router& router, Metrics& metrics, AccessLog& log)
    : impl_(std::make_unique<Impl>(config, router, metrics, log)) {
  // sendfile(2) has no MSG_NOSIGNAL: a client that hangs up mid-response must
  // cost an EPIPE, not the process (wrk closing its connections killed it).
  std::signal(SIGPIPE, SIG_IGN);
}

Server::~Server() {
  impl_->blocking.join();
  impl_->commits.join();
}

Result<std::string> Server::listen() {
  auto& a = impl_->acceptor;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(impl_->cfg.listen_host, ec);
  if (ec) {
    // A host name: resolve it.
    tcp::resolver resolver(impl_->ioc);
    auto results = resolver.resolve(impl_->cfg.listen_host, std::to_string(impl_->cfg.listen_port), ec);
    if (ec || results.empty())
      return fail(Errc::kInvalidArgument, "cannot resolve listen host '{}': {}", impl_->cfg.listen_host, ec.message());
    addr = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(addr, impl_->cfg.listen_port);
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(Errc::kIOError, "cannot listen on {}:{}: {}", impl_->cfg.listen_host, impl_->cfg.listen_port,
                      ec.message());
  auto bound = a.local_endpoint();
  if (bound.address().is_v6()) return fmt::format("[{}]:{}", bound.address().to_string(), bound.port());
  return fmt::format("{}:{}", bound.address().to_string(), bound.port());
}

void Server::add_upgrade_handler(std::string path_prefix, UpgradeHandler handler) {
  impl_->upgrades.emplace_back(std::move(path_prefix), std::move(handler));
}

Result<> Server::run() {
  auto& im = *impl_;
  im.signals.add(SIGINT);
  im.signals.add(SIGTERM);
  im.signals.async_wait([&im](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", sig);
    im.begin_shutdown();
  });
  asio::co_spawn(im.acceptor.get_executor(), im.accept_loop(), asio::detached);
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < im.cfg.threads; ++i) threads.emplace_back([&im] { im.ioc.run(); });
  im.ioc.run();
  for (auto& t : threads) t.join();
  return {};
}

void Server::stop() {
  asio::post(impl_->ioc, [im = impl_.get()] { im->begin_shutdown(); });
}

void Server::Impl::for_each_conn(const std::function<void(Conn&)>& fn) {
  std::lock_guard lock(mu);
  for (auto& [id, weak] : conns) {
    if (auto c = weak.lock()) {
      asio::post(c->stream.get_executor(), [c, fn] { fn(*c); });
    }
  }
}

void Server::Impl::begin_shutdown() {
  if (stopping.exchange(true)) return;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  signals.cancel(ignored);
  // Idle keep-alive connections go now; busy ones finish their request.
  for_each_conn([](Conn& c) {
    if (c.idle && !c.handed_over) beast::get_lowest_layer(c.stream).socket().cancel();
  });
  asio::co_spawn(ioc, drain(), asio::detached);
}

awaitable<void> Server::Impl::drain() {
  auto deadline = std::chrono::steady_clock::now() + cfg.shutdown_timeout;
  bool forced = false;
  asio::steady_timer t(ioc);
  for (;;) {
    {
      std::lock_guard lock(mu);
      std::erase_if(conns, [](auto& kv) { return kv.second.expired(); });
      if (conns.empty()) co_return;
    }
    if (!forced && std::chrono::steady_clock::now() >= deadline) {
      forced = true;
      spdlog::warn("shutdown timeout: closing connections still busy");
      for_each_conn([](Conn& c) {
        if (!c.handed_over) beast::get_lowest_layer(c.stream).close();
      });
    }
    t.expires_after(std::chrono::milliseconds(50));
    co_await t.async_wait(kNoThrow);
  }
}

awaitable<void> Server::Impl::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), kNoThrow);
    if (stopping) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) co_return;
      // EMFILE and friends: back off briefly instead of spinning.
      spdlog::warn("accept: {}", ec.message());
      asio::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await t.async_wait(kNoThrow);
      continue;
    }
    std::size_t open;
    {
      std::lock_guard lock(mu);
      std::erase_if(conns, [](auto& kv) { return kv.second.expired(); });
      open = conns.size();
    }
    if (open >= cfg.max_connections) {
      metrics.connection_rejected();
      static constexpr std::string_view kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
          "Content-Length: 68\r\n\r\n{\"error\":\"NotEnoughResources\",\"message\":\"Too many open connections\"}";
      boost::system::error_code ignored;
      socket.non_blocking(true, ignored);
      [[maybe_unused]] auto n = ::send(socket.native_handle(), kBusy.data(), kBusy.size(), MSG_NOSIGNAL);
      socket.close(ignored);
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto conn = std::make_shared<Conn>(std::move(socket));
    auto ep = beast::get_lowest_layer(conn->stream).socket().remote_endpoint(ignored);
    conn->remote = ep.address().is_v6() ? fmt::format("[{}]:{}", ep.address().to_string(), ep.port())
                                        : fmt::format("{}:{}", ep.address().to_string(), ep.port());
    {
      std::lock_guard lock(mu);
      conn->id = next_id++;
      conns[conn->id] = conn;
    }
    asio::co_spawn(conn->stream.get_executor(), session(conn), asio::detached);
  }
}

awaitable<void> Server::Impl::session(std::shared_ptr<Conn> c) {
  metrics.connection_opened();
  bool first = true;
  for (;;) {
    if (c->buffer.size() == 0) {
      c->idle = true;
      if (stopping) break;
      // Wait for the first byte of the next request.
      c->stream.expires_after(first ? cfg.header_timeout : cfg.idle_timeout);
      auto [ec, n] = co_await c->stream.async_read_some(c->buffer.prepare(16 * 1024), kNoThrow);
      if (ec) break;
      c->buffer.commit(n);
    }
    c->idle = false;
    first = false;
    // The whole head must arrive within header_timeout, however slowly it trickles.
    c->stream.expires_after(cfg.header_timeout);
    bhttp::request_parser<bhttp::empty_body> hp;
    hp.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
    hp.body_limit(boost::none);  // routes enforce their own body limits
    auto [ec, head_bytes] = co_await bhttp::async_read_header(c->stream, c->buffer, hp, kNoThrow);
    (void)head_bytes;
    if (ec) {
      Response err;
      if (ec == bhttp::error::header_limit)
        err = xrpc_error(431, "InvalidRequest", "Request header fields too large");
      else if (ec == beast::error::timeout)
        err = xrpc_error(408, "InvalidRequest", "Request head not received in time");
      else if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
               ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message)
        err = xrpc_error(400, "InvalidRequest", fmt::format("Malformed HTTP request: {}", ec.message()));
      else
        break;  // the peer went away
      err.close = true;
      if (ec != beast::error::timeout) co_await write_response(*c, err, false, false, 11);
      metrics.record_request("invalid", err.status, 0, 0);
      log.log({c->remote, "-", "-", "invalid", "", err.status, 0, 0, 0});
      break;
    }
    bool keep = co_await handle(*c, hp);
    if (c->handed_over) {
      metrics.connection_closed();
      co_return;
    }
    if (!keep) break;
  }
  boost::system::error_code ignored;
  auto& sock = beast::get_lowest_layer(c->stream).socket();
  sock.shutdown(tcp::socket::shutdown_send, ignored);
  sock.close(ignored);
  metrics.connection_closed();
}

awaitable<bool> Server::Impl::send_continue(Conn& c) {
  static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
  c.stream.expires_after(cfg.body_timeout);
  auto [ec, n] = co_await asio::async_write(c.stream, asio::buffer(k100.data(), k100.size()), kNoThrow);
  co_return !ec;
}

awaitable<void> Server::Impl::linger_close(Conn& c) {
  // We answered before reading the whole body. Closing at once would make the
  // kernel reset the connection and the client could miss the response, so
  // stop sending, then read and discard for a short while.
  auto& sock = beast::get_lowest_layer(c.stream).socket();
  boost::system::error_code ignored;
  sock.shutdown(tcp::socket::shutdown_send, ignored);
  c.stream.expires_after(std::chrono::seconds(3));
  if (c.chunk.size() < kChunk) c.chunk.resize(kChunk);
  for (;;) {
    auto [ec, n] = co_await c.stream.async_read_some(asio::buffer(c.chunk.data(), c.chunk.size()), kNoThrow);
    if (ec) break;
  }
}

awaitable<bool> Server::Impl::handle(Conn& c, bhttp::request_parser<bhttp::empty_body>& hp) {
  using clock = std::chrono::steady_clock;
  auto start = clock::now();
  auto& head = hp.get();
  Request req;
  req.method = std::string(head.method_string());
  req.target = std::string(head.target());
  req.remote = c.remote;
  for (const auto& f : head) {
    std::string name(f.name_string());
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    req.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  if (hp.content_length()) req.content_length = *hp.content_length();
  req.has_body = hp.chunked() || (req.content_length && *req.content_length > 0);
  bool keep_alive = head.keep_alive() && !stopping;
  bool is_head = head.method() == bhttp::verb::head;
  unsigned version = head.version();

  std::string route_name = "unknown";
  Response resp;
  std::uint64_t bytes_in = 0;
  bool body_unread = req.has_body;
  bool upload = false;

  const Route* route = nullptr;
  if (!parse_request_target(head.target(), req)) {
    resp = xrpc_error(400, "InvalidRequest", "Malformed request target");
  } else {

    // WebSocket upgrade for another component (rooms).
    auto upgrade = head[bhttp::field::upgrade];
    auto connection = head[bhttp::field::connection];
    if (!upgrade.empty() && beast::iequals(upgrade, "websocket") && header_has_token(connection, "upgrade")) {
      for (auto& [prefix, handler] : upgrades) {
        if (!req.path.starts_with(prefix)) continue;
        if (req.has_body) break;
        bhttp::request_parser<bhttp::string_body> sp(std::move(hp));
        auto ctx = std::make_unique<UpgradeContext>(
            UpgradeContext{std::move(c.stream), sp.release(), std::move(c.buffer)});
        ctx->stream.expires_never();
        c.handed_over = true;
        {
          std::lock_guard lock(mu);
          conns.erase(c.id);
        }
        metrics.record_request("upgrade", 101, 0, 0);
        handler(std::move(ctx));
        co_return false;
      }
    }
    route = router.match(req.method, req.path, resp);
  }

  if (route) {
    route_name = route->name;
    upload = route->upload;
    auto expect = head[bhttp::field::expect];
    bool wants_continue = beast::iequals(expect, "100-continue");
    auto call = [&](auto&& fn) -> awaitable<Response> {
      try {
        if (route->blocking) {
          co_return co_await asio::co_spawn(
              blocking, [&]() -> awaitable<Response> { co_return fn(); }, asio::use_awaitable);
        }
        co_return fn();
      } catch (const std::exception& e) {
        spdlog::error("{} {}: handler threw: {}", req.method, req.path, e.what());
        co_return xrpc_error(500, "InternalServerError", "Internal Server Error");
      }
    };

    if (route->handler) {
      bool ok = true;
      if (req.has_body) {
        if (req.content_length && *req.content_length > cfg.max_json_bytes) {
          resp = xrpc_error(413, "PayloadTooLarge", "request entity too large");
          ok = false;
        } else {
          if (wants_continue && !(co_await send_continue(c))) co_return false;
          bhttp::request_parser<bhttp::string_body> sp(std::move(hp));
          sp.body_limit(cfg.max_json_bytes);
          c.stream.expires_after(cfg.body_timeout);
          auto [ec, n] = co_await bhttp::async_read(c.stream, c.buffer, sp, kNoThrow);
          if (ec == bhttp::error::body_limit) {
            resp = xrpc_error(413, "PayloadTooLarge", "request entity too large");
            ok = false;
          } else if (ec) {
            resp = xrpc_error(400, "InvalidRequest",
                              ec == beast::error::timeout
                                  ? "Request body ended before its Content-Length (timed out)"
                                  : fmt::format("Could not read the request body: {}", ec.message()));
            ok = false;
          } else {
            req.body = std::move(sp.get().body());
            bytes_in = req.body.size();
            body_unread = false;
          }
        }
      }
      if (ok) resp = co_await call([&] { return route->handler(req); });
    } else {
      StreamStart started = co_await [&]() -> awaitable<StreamStart> {
        try {
          co_return route->stream(req);
        } catch (const std::exception& e) {
          spdlog::error("{} {}: handler threw: {}", req.method, req.path, e.what());
          co_return xrpc_error(500, "InternalServerError", "Internal Server Error");
        }
      }();
      if (auto* r = std::get_if<Response>(&started)) {
        resp = std::move(*r);
      } else {
        auto sink = std::move(std::get<std::unique_ptr<BodySink>>(started));
        std::optional<Response> failed;
        if (wants_continue && !(co_await send_continue(c))) co_return false;
        if (req.has_body) {
          if (c.chunk.size() < kChunk) c.chunk.resize(kChunk);
          // Our own timer cancels (rather than closes, as tcp_stream's would)
          // a stalled read, so the client still gets its 400.
          c.stream.expires_never();
          StallGuard stall(c);
          auto body_error = [](boost::system::error_code ec, bool timed_out) {
            if (timed_out)
              return xrpc_error(400, "InvalidRequest",
                                "Request body ended before its Content-Length (no data within body_timeout)");
            if (ec == bhttp::error::partial_message || ec == bhttp::error::end_of_stream || ec == asio::error::eof)
              return xrpc_error(400, "InvalidRequest", "Request body is shorter than its Content-Length");
            return xrpc_error(400, "InvalidRequest", fmt::format("Could not read the request body: {}", ec.message()));
          };
          auto deliver = [&](std::span<const std::byte> got) {
            bytes_in += got.size();
            try {
              failed = sink->write(got);
            } catch (const std::exception&) {
              failed = xrpc_error(500, "InternalServerError", "Internal Server Error");
            }
          };
          if (!hp.chunked() && req.content_length) {
            // A fixed-length body goes from the socket straight into the
            // sink's buffers (the ingest ring): beast's parser would read it
            // into c.buffer first and copy it, a memcpy of every byte.
            std::uint64_t left = *req.content_length;
            while (left > 0 && !failed) {
              std::span<std::byte> into = sink->next_buffer(c.chunk);
              std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(into.size(), left));
              std::size_t got = 0;
              if (c.buffer.size() > 0) {  // what arrived with the head
                got = asio::buffer_copy(asio::buffer(into.data(), want), c.buffer.data());
                c.buffer.consume(got);
              } else {
                stall.arm(cfg.body_timeout);
                auto [ec, n] = co_await c.stream.async_read_some(asio::buffer(into.data(), want), kNoThrow);
                bool timed_out = stall.disarm();
                if (ec) {
                  failed = body_error(ec, timed_out);
                  break;
                }
                got = n;
              }
              left -= got;
              if (got > 0) deliver(std::span<const std::byte>(into.data(), got));
            }
          } else {
            bhttp::request_parser<bhttp::buffer_body> bp(std::move(hp));
            bp.body_limit(boost::none);  // the sink enforces the configured limit
            while (!bp.is_done()) {
              std::span<std::byte> into = sink->next_buffer(c.chunk);
              bp.get().body().data = into.data();
              bp.get().body().size = into.size();
              stall.arm(cfg.body_timeout);
              auto [ec, n] = co_await bhttp::async_read(c.stream, c.buffer, bp, kNoThrow);
              bool timed_out = stall.disarm();
              if (ec == bhttp::error::need_buffer) ec = {};
              std::size_t got = into.size() - bp.get().body().size;
              if (ec) {
                bytes_in += got;
                failed = body_error(ec, timed_out);
                break;
              }
              if (got > 0) {
                deliver(std::span<const std::byte>(into.data(), got));
                if (failed) break;
              }
            }
          }
          if (!failed) {
            body_unread = false;
            // Bytes right after a body that do not start a new request mean the
            // body was longer than its Content-Length.
            auto& sock = beast::get_lowest_layer(c.stream).socket();
            boost::system::error_code aec;
            std::size_t avail = sock.available(aec);
            if (!aec && avail > 0) {
              auto n = sock.read_some(c.buffer.prepare(std::min<std::size_t>(avail, 64 * 1024)), aec);
              if (!aec) c.buffer.commit(n);
            }
            if (c.buffer.size() > 0 && !is_token_start(c.buffer)) {
              failed = xrpc_error(400, "InvalidRequest", "Request body is longer than its Content-Length");
              body_unread = true;
            }
          }
        } else {
          body_unread = false;
        }
        if (failed) {
          sink.reset();  // discards the partial upload
          resp = std::move(*failed);
        } else {
          try {
            resp = co_await asio::co_spawn(
                commits, [&]() -> awaitable<Response> { co_return sink->finish(); }, asio::use_awaitable);
          } catch (const std::exception&) {
            resp = xrpc_error(500, "InternalServerError", "Internal Server Error");
          }
        }
      }
    }
  }

  if (body_unread || resp.close || stopping) keep_alive = false;
  auto [ok, bytes_out] = co_await write_response(c, resp, is_head, keep_alive, version);
  double seconds = std::chrono::duration<double>(clock::now() - start).count();
  metrics.record_request(route_name, resp.status, bytes_in, bytes_out);
  if (upload && resp.status == 200) metrics.record_upload(seconds);
  log.log({c.remote, req.method, req.path, route_name, req.did, resp.status, bytes_in, bytes_out, seconds * 1000});
  if (!ok) co_return false;
  if (body_unread) {
    co_await linger_close(c);
    co_return false;
  }
  co_return keep_alive;
}

awaitable<std::pair<bool, std::uint64_t>> Server::Impl::write_response(Conn& c, Response& r, bool head,
                                                                       bool keep_alive, unsigned version) {
  bhttp::response<bhttp::string_body> res;
  res.version(version);
  res.result(static_cast<unsigned>(r.status));
  res.set(bhttp::field::server, "blobsync");
  for (auto& [k, v] : r.headers) res.set(k, v);
  res.keep_alive(keep_alive);
  std::uint64_t sent = 0;
  c.stream.expires_after(cfg.body_timeout);
  if (r.blob) {
    res.content_length(r.blob_length);
    bhttp::response_serializer<bhttp::string_body> sr(res);
    auto [ec, n] = co_await bhttp::async_write_header(c.stream, sr, kNoThrow);
    if (ec) co_return std::pair{false, sent};
    if (head) co_return std::pair{true, sent};
    bool ok = co_await send_blob(c, r, sent);
    co_return std::pair{ok, sent};
  }
  res.body() = std::move(r.body);
  res.prepare_payload();
  if (head) {
    bhttp::response_serializer<bhttp::string_body> sr(res);
    auto [ec, n] = co_await bhttp::async_write_header(c.stream, sr, kNoThrow);
    co_return std::pair{!ec, sent};
  }
  sent = res.body().size();
  auto [ec, n] = co_await bhttp::async_write(c.stream, res, kNoThrow);
  co_return std::pair{!ec, ec ? 0 : sent};
}

awaitable<bool> Server::Impl::send_blob(Conn& c, Response& r, std::uint64_t& sent) {
  auto& reader = *r.blob;
  std::uint64_t remaining = r.blob_length;
  auto& sock = beast::get_lowest_layer(c.stream).socket();
  int fd = reader.native_fd();
  if (fd >= 0) {
    boost::system::error_code ec;
    sock.native_non_blocking(true, ec);
    if (ec) co_return false;
    StallGuard stall(c);
    while (remaining > 0) {
      off_t off = static_cast<off_t>(reader.native_offset());
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, 1u << 30));
      ssize_t n = ::sendfile(sock.native_handle(), fd, &off, want);
      if (n > 0) {
        reader.advance(static_cast<std::uint64_t>(n));
        remaining -= static_cast<std::uint64_t>(n);
        sent += static_cast<std::uint64_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        // Wait until the client drains its window, but not forever.
        stall.arm(cfg.body_timeout);
        auto [wec] = co_await sock.async_wait(tcp::socket::wait_write, kNoThrow);
        if (stall.disarm() || wec) co_return false;
        continue;
      }
      if (n == 0) spdlog::error("sendfile: blob shorter than its size ({} bytes missing)", remaining);
      else spdlog::warn("sendfile: {}", std::strerror(errno));
      co_return false;
    }
    co_return true;
  }
  // No local file (remote backend): copy through a buffer.
  if (c.chunk.size() < kChunk) c.chunk.resize(kChunk);
  while (remaining > 0) {
    auto want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, c.chunk.size()));
    auto n = reader.read(std::span<std::byte>(c.chunk.data(), want));
    if (!n || *n == 0) {
      spdlog::error("blob read failed: {}", n ? "unexpected end" : n.error().to_string());
      co_return false;
    }
    c.stream.expires_after(cfg.body_timeout);
    auto [ec, w] = co_await asio::async_write(c.stream, asio::buffer(c.chunk.data(), *n), kNoThrow);
    if (ec) co_return false;
    remaining -= *n;
    sent += *n;
  }
  co_return true;
}

}  // namespace blobsync::http
