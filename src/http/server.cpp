// Server: the listening port and its connections (accept with the
// max_connections and max_connections_per_ip limits, the TLS handshake, the
// keep-alive loop that reads each request head within header_timeout, SIGHUP
// reload of the certificate, shutdown and drain). One request is served by
// server_dispatch.cpp, responses are written by server_response.cpp; the
// three share server_impl.h. See server.h for the contract.
#include "http/server.h"

#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <thread>
#include <tuple>

#include "http/access_log.h"
#include "http/metrics.h"
#include "http/server_impl.h"
#include "http/systemd.h"

namespace blobsync::http {

Server::Server(const ServerConfig& config, const Router& router, Metrics& metrics, AccessLog& log)
    : impl_(std::make_unique<Impl>(config, router, metrics, log)) {
  // sendfile(2) has no MSG_NOSIGNAL: a client that hangs up mid-response must
  // cost an EPIPE, not the process (wrk closing its connections killed it).
  std::signal(SIGPIPE, SIG_IGN);
}

Server::~Server() {
  impl_->blocking.join();
  impl_->commits.join();
  impl_->images.join();
}

Result<std::string> Server::listen() {
  auto& a = impl_->acceptor;
  boost::system::error_code ec;
  if (!impl_->cfg.tls_cert.empty() || !impl_->cfg.tls_key.empty()) {
    auto tls = TlsContext::load(impl_->cfg.tls_cert, impl_->cfg.tls_key);
    if (!tls) return std::unexpected(tls.error());
    impl_->tls = std::move(*tls);
    spdlog::info("TLS on: {}", impl_->tls->describe());
  }
  auto inherited = systemd::take_listen_fd();
  if (!inherited) return std::unexpected(inherited.error());
  if (*inherited >= 0) {
    // Socket activation: systemd's socket, whatever `listen` says.
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(*inherited, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
      return fail(Errc::kIOError, "socket activation: getsockname: {}", std::strerror(errno));
    a.assign(ss.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), *inherited, ec);
    if (ec) return fail(Errc::kIOError, "socket activation: {}", ec.message());
    spdlog::info("listening on the socket systemd passed (socket activation)");
  } else {
    auto addr = asio::ip::make_address(impl_->cfg.listen_host, ec);
    if (ec) {
      // A host name: resolve it.
      tcp::resolver resolver(impl_->ioc);
      auto results = resolver.resolve(impl_->cfg.listen_host, std::to_string(impl_->cfg.listen_port), ec);
      if (ec || results.empty())
        return fail(Errc::kInvalidArgument, "cannot resolve listen host '{}': {}", impl_->cfg.listen_host,
                    ec.message());
      addr = results.begin()->endpoint().address();
    }
    tcp::endpoint ep(addr, impl_->cfg.listen_port);
    a.open(ep.protocol(), ec);
    if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return fail(Errc::kIOError, "cannot listen on {}:{}: {}", impl_->cfg.listen_host, impl_->cfg.listen_port,
                  ec.message());
  }
  auto bound = a.local_endpoint();
  std::string bound_addr = bound.address().is_v6() ? fmt::format("[{}]:{}", bound.address().to_string(), bound.port())
                                                   : fmt::format("{}:{}", bound.address().to_string(), bound.port());
  // This server's own origin is its public url's, which defaults to the
  // bound address (as the sync layer's does).
  const auto& cfg = impl_->cfg;
  auto origins = OriginPolicy::make({.allowed = cfg.allowed_origins,
                                     .public_url = sync_url(cfg, bound_addr),
                                     .peers = cfg.peers,
                                     .hostname = cfg.hostname});
  if (!origins) return std::unexpected(origins.error());
  impl_->origins.emplace(std::move(*origins));
  return bound_addr;
}

void Server::add_upgrade_handler(std::string path_prefix, UpgradeHandler handler) {
  impl_->upgrades.emplace_back(std::move(path_prefix), std::move(handler));
}

void Server::set_accept_scope(AcceptScope scope) { impl_->accept_scope = std::move(scope); }

Result<> Server::run() {
  auto& im = *impl_;
  im.signals.add(SIGINT);
  im.signals.add(SIGTERM);
  im.signals.async_wait([&im](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", sig);
    im.begin_shutdown();
  });
  im.reload_signal.add(SIGHUP);
  im.wait_reload();
  asio::co_spawn(im.acceptor.get_executor(), im.accept_loop(), asio::detached);
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < im.cfg.threads; ++i) threads.emplace_back([&im] { im.ioc.run(); });
  im.ioc.run();
  for (auto& t : threads) t.join();
  return {};
}

boost::asio::io_context& Server::io_context() { return impl_->ioc; }

void Server::stop() {
  asio::post(impl_->ioc, [im = impl_.get()] { im->begin_shutdown(); });
}

void Server::Impl::wait_reload() {
  reload_signal.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    if (!tls) {
      spdlog::info("SIGHUP: nothing to reload (no tls_cert)");
    } else if (auto r = tls->reload(); !r) {
      spdlog::error("SIGHUP: TLS certificate not reloaded, keeping {}: {}", tls->describe(), r.error().message);
    } else {
      spdlog::info("SIGHUP: TLS certificate reloaded: {}", tls->describe());
    }
    wait_reload();
  });
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
  systemd::notify_stopping();
  boost::system::error_code ignored;
  // With socket activation this closes only our copy: systemd keeps the
  // socket, and connections arriving now wait for the next instance.
  acceptor.close(ignored);
  signals.cancel(ignored);
  reload_signal.cancel(ignored);
  // Idle keep-alive connections go now; busy ones finish their request.
  // Not the throwing cancel(): a connection may have closed its socket
  // (a failed TLS handshake, a timeout) before this runs on its strand.
  for_each_conn([](Conn& c) {
    boost::system::error_code ec;
    if (c.idle && !c.handed_over) beast::get_lowest_layer(c.stream).socket().cancel(ec);
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

// The socket is made by a synchronous accept after a readiness wait (not
// async_accept) so that accept_scope can wrap where Asio allocates its state.
// Readiness is edge-triggered: every waiting connection is taken before the
// next wait (in turns of kAcceptTurn, other work on the thread in between),
// and after an error (EMFILE...) accept is tried again without one.
awaitable<void> Server::Impl::accept_loop() {
  constexpr int kAcceptTurn = 64;
  boost::system::error_code ignored;
  acceptor.non_blocking(true, ignored);
  bool wait = true;
  for (;;) {
    boost::system::error_code ec;
    if (wait) std::tie(ec) = co_await acceptor.async_wait(tcp::acceptor::wait_read, kNoThrow);
    wait = true;
    for (int n = 1; !ec && !stopping; ++n) {
      if (n % kAcceptTurn == 0) co_await asio::post(acceptor.get_executor(), asio::use_awaitable);
      std::optional<tcp::socket> socket;
      auto accept = [&] { socket.emplace(acceptor.accept(asio::make_strand(ioc), ec)); };
      if (accept_scope) accept_scope(accept);
      else accept();
      if (!ec) admit(std::move(*socket));
    }
    if (stopping) co_return;
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) co_return;
    // EMFILE and friends: back off briefly instead of spinning.
    spdlog::warn("accept: {}", ec.message());
    asio::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(100));
    co_await t.async_wait(kNoThrow);
    wait = false;
  }
}

void Server::Impl::admit(tcp::socket socket) {
  // HTTP and WebSocket connections alike hold a slot (conn_limits.h).
  boost::system::error_code ignored;
  auto peer = socket.remote_endpoint(ignored);
  ConnectionLimits::Refusal refusal{};
  auto slot = ignored ? nullptr : limits->try_open(peer.address(), refusal);
  if (!slot) {
    metrics.connection_rejected();
    // Written without waiting: a refused client must cost no coroutine.
    std::string_view message = refusal == ConnectionLimits::Refusal::kPerAddress
                                   ? "Too many open connections from this address (max_connections_per_ip)"
                                   : "Too many open connections (max_connections)";
    std::string body = fmt::format(R"({{"error":"NotEnoughResources","message":"{}"}})", message);
    std::string busy = fmt::format(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
        "Retry-After: 1\r\nContent-Length: {}\r\n\r\n{}",
        body.size(), body);
    socket.non_blocking(true, ignored);
    // A TLS client could not read a plain answer: it just sees the close.
    if (!tls) (void)::send(socket.native_handle(), busy.data(), busy.size(), MSG_NOSIGNAL);
    socket.close(ignored);
    return;
  }
  socket.set_option(tcp::no_delay(true), ignored);
  auto conn = std::make_shared<Conn>(std::move(socket));
  conn->slot = std::move(slot);
  conn->remote = peer.address().is_v6() ? fmt::format("[{}]:{}", peer.address().to_string(), peer.port())
                                        : fmt::format("{}:{}", peer.address().to_string(), peer.port());
  {
    std::lock_guard lock(mu);
    conn->id = next_id++;
    conns[conn->id] = conn;
  }
  asio::co_spawn(conn->stream.get_executor(), session(conn), asio::detached);
}

awaitable<bool> Server::Impl::tls_handshake(Conn& c) {
  // ClientHello and handshake together within header_timeout (a client
  // that connects and says nothing holds its slot no longer than that).
  c.stream.expires_after(cfg.header_timeout);
  auto [ec, n] = co_await c.stream.async_read_some(c.buffer.prepare(16 * 1024), kNoThrow);
  if (ec) co_return false;
  c.buffer.commit(n);
  auto first = static_cast<const unsigned char*>(c.buffer.data().data())[0];
  if (first != 0x16) {  // not a TLS handshake record
    if (first >= 'A' && first <= 'Z') {
      // Plain HTTP to the TLS port: say so, in plain HTTP (as nginx does).
      Response err = xrpc_error(400, "InvalidRequest", "This port speaks TLS: use https:// (or wss://)");
      err.close = true;
      co_await write_response(c, err, false, false, 11);
      metrics.record_request("plain_http_to_tls", 400, 0, 0);
      log.log({c.remote, "-", "-", "plain_http_to_tls", "", 400, 0, 0, 0});
    }
    co_return false;
  }
  auto hs = co_await c.stream.start_tls(*tls, c.buffer.data());
  c.buffer.consume(c.buffer.size());
  if (hs) {
    spdlog::debug("{}: TLS handshake failed: {}", c.remote, hs.message());
    co_return false;
  }
  co_return true;
}

awaitable<void> Server::Impl::session(std::shared_ptr<Conn> c) {
  metrics.connection_opened();
  bool first = true;
  if (tls && !(co_await tls_handshake(*c))) {
    beast::get_lowest_layer(c->stream).close();
    metrics.connection_closed();
    co_return;
  }
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
    bhttp::request_parser<bhttp::empty_body> hp;
    hp.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
    hp.body_limit(boost::none);  // routes enforce their own body limits
    // The head is usually all in the buffer already: parse it here, as
    // async_read_header's first step would, since that operation completes
    // by posting itself to the strand (a scheduler round trip per request).
    // The same parser and limits, so the same errors.
    boost::system::error_code ec;
    c->buffer.consume(hp.put(c->buffer.data(), ec));
    if (ec == bhttp::error::need_more) {
      // The whole head must arrive within header_timeout, however slowly it trickles.
      c->stream.expires_after(cfg.header_timeout);
      std::tie(ec, std::ignore) = co_await bhttp::async_read_header(c->stream, c->buffer, hp, kNoThrow);
    }
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

}  // namespace blobsync::http
