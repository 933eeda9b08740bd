// Serving one request on a connection, in named steps: the head becomes a
// Request; its Origin, if any, is checked (403, or a CORS preflight answered:
// origin.h); a WebSocket upgrade is handed over; the router picks a route; a
// buffered body is read and the handler called, or a streamed body is read
// from the socket into the route's BodySink and committed; then the answer
// is written and the request recorded (respond()).
#include <boost/asio/co_spawn.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <span>
#include <variant>

#include "http/access_log.h"
#include "http/metrics.h"
#include "http/request_target.h"
#include "http/server_impl.h"
#include "http/upgrade.h"

namespace blobsync::http {

namespace {

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

// The request head as a Request (header names lower-cased); the target is
// parsed later, by parse_request_target().
Request request_from_head(const Conn& c, const HeadParser& hp) {
  auto& head = hp.get();
  Request req;
  req.method = std::string(head.method_string());
  req.target = std::string(head.target());
  req.remote = c.remote;
  for (const auto& f : head) {
    std::string name(f.name_string());
    // ASCII only (a field name is a token): no locale lookup per byte.
    for (auto& ch : name)
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    req.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  if (hp.content_length()) req.content_length = *hp.content_length();
  req.has_body = hp.chunked() || (req.content_length && *req.content_length > 0);
  return req;
}

Response body_read_error(boost::system::error_code ec, Pace::Verdict pace) {
  if (pace == Pace::Verdict::kSilent)
    return xrpc_error(400, "InvalidRequest",
                      "Request body ended before its Content-Length (no data within body_timeout)");
  if (pace == Pace::Verdict::kSlow)
    return xrpc_error(408, "RequestTimeout", "Request body arrived slower than the server's min_transfer_rate");
  if (ec == bhttp::error::partial_message || ec == bhttp::error::end_of_stream || ec == asio::error::eof)
    return xrpc_error(400, "InvalidRequest", "Request body is shorter than its Content-Length");
  return xrpc_error(400, "InvalidRequest", fmt::format("Could not read the request body: {}", ec.message()));
}

// Hands `got` to the sink; its error Response, if any.
std::optional<Response> deliver(BodySink& sink, std::span<const std::byte> got, std::uint64_t& bytes_in) {
  bytes_in += got.size();
  try {
    return sink.write(got);
  } catch (const std::exception&) {
    return xrpc_error(500, "InternalServerError", "Internal Server Error");
  }
}

}  // namespace

awaitable<bool> Server::Impl::handle(Conn& c, HeadParser& hp) {
  auto start = std::chrono::steady_clock::now();
  auto& head = hp.get();
  Exchange x;
  x.req = request_from_head(c, hp);
  x.body_unread = x.req.has_body;
  bool keep_alive = head.keep_alive() && !stopping;
  bool is_head = head.method() == bhttp::verb::head;
  unsigned version = head.version();

  const Route* route = nullptr;
  std::optional<std::string> allowed_origin;
  if (!parse_request_target(head.target(), x.req)) {
    x.resp = xrpc_error(400, "InvalidRequest", "Malformed request target");
  } else if (!check_origin(x.req, x, allowed_origin)) {
    if (hand_over_upgrade(c, hp, x.req)) co_return false;
    route = router.match(x.req.method, x.req.path, x.resp);
  }

  if (route) {
    x.route_name = route->name;
    x.upload = route->upload;
    auto expect = head[bhttp::field::expect];
    bool wants_continue = beast::iequals(expect, "100-continue");
    bool alive = route->handler ? co_await serve_buffered(c, hp, *route, wants_continue, x)
                                : co_await serve_streamed(c, hp, *route, wants_continue, x);
    if (!alive) co_return false;
  }
  if (OriginPolicy::cors_path(x.req.path)) OriginPolicy::decorate(x.resp, allowed_origin);
  co_return co_await respond(c, x, start, keep_alive, is_head, version);
}

bool Server::Impl::check_origin(const Request& req, Exchange& x, std::optional<std::string>& allowed) {
  auto origin = req.header("origin");
  if (!origin) return false;  // not a browser's cross-site request: nothing to check
  if (!origins->allows(*origin, req.header("host"))) {
    x.route_name = "origin_refused";
    x.resp = xrpc_error(403, "Forbidden",
                        "Requests from this browser origin are not allowed (the server's allowed_origins)");
    // A refused WebSocket upgrade gets its 403 before any 101, then the
    // connection closes.
    if (req.header("upgrade")) x.resp.close = true;
    return true;
  }
  allowed = std::string(*origin);
  if (req.method == "OPTIONS" && OriginPolicy::cors_path(req.path)) {
    x.route_name = "preflight";
    x.resp = OriginPolicy::preflight(*origin, req);
    return true;
  }
  return false;
}

bool Server::Impl::hand_over_upgrade(Conn& c, HeadParser& hp, const Request& req) {
  // WebSocket upgrade for another component (rooms).
  auto& head = hp.get();
  auto upgrade = head[bhttp::field::upgrade];
  auto connection = head[bhttp::field::connection];
  if (upgrade.empty() || !beast::iequals(upgrade, "websocket") || !header_has_token(connection, "upgrade")) {
    return false;
  }
  for (auto& [prefix, handler] : upgrades) {
    if (!req.path.starts_with(prefix)) continue;
    if (req.has_body) break;
    bhttp::request_parser<bhttp::string_body> sp(std::move(hp));
    auto ctx = std::make_unique<UpgradeContext>(
        UpgradeContext{std::move(c.stream), sp.release(), std::move(c.buffer), std::move(c.slot)});
    ctx->stream.expires_never();
    c.handed_over = true;
    {
      std::lock_guard lock(mu);
      conns.erase(c.id);
    }
    metrics.record_request("upgrade", 101, 0, 0);
    handler(std::move(ctx));
    return true;
  }
  return false;
}

awaitable<Response> Server::Impl::call_handler(const Route& route, Request& req) {
  try {
    if (route.blocking) {
      co_return co_await asio::co_spawn(
          blocking, [&]() -> awaitable<Response> { co_return route.handler(req); }, asio::use_awaitable);
    }
    if (route.images) {
      co_return co_await asio::co_spawn(
          images, [&]() -> awaitable<Response> { co_return route.handler(req); }, asio::use_awaitable);
    }
    co_return route.handler(req);
  } catch (const std::exception& e) {
    spdlog::error("{} {}: handler threw: {}", req.method, req.path, e.what());
    co_return xrpc_error(500, "InternalServerError", "Internal Server Error");
  }
}

awaitable<bool> Server::Impl::serve_buffered(Conn& c, HeadParser& hp, const Route& route, bool wants_continue,
                                             Exchange& x) {
  bool ok = true;
  if (x.req.has_body) {
    if (x.req.content_length && *x.req.content_length > cfg.max_json_bytes) {
      x.resp = xrpc_error(413, "PayloadTooLarge", "request entity too large");
      ok = false;
    } else {
      if (wants_continue && !(co_await send_continue(c))) co_return false;
      bhttp::request_parser<bhttp::string_body> sp(std::move(hp));
      sp.body_limit(cfg.max_json_bytes);
      c.stream.expires_after(cfg.body_timeout);
      auto [ec, n] = co_await bhttp::async_read(c.stream, c.buffer, sp, kNoThrow);
      if (ec == bhttp::error::body_limit) {
        x.resp = xrpc_error(413, "PayloadTooLarge", "request entity too large");
        ok = false;
      } else if (ec) {
        x.resp = xrpc_error(400, "InvalidRequest",
                            ec == beast::error::timeout
                                ? "Request body ended before its Content-Length (timed out)"
                                : fmt::format("Could not read the request body: {}", ec.message()));
        ok = false;
      } else {
        x.req.body = std::move(sp.get().body());
        x.bytes_in = x.req.body.size();
        x.body_unread = false;
      }
    }
  }
  if (ok) x.resp = co_await call_handler(route, x.req);
  co_return true;
}

awaitable<bool> Server::Impl::serve_streamed(Conn& c, HeadParser& hp, const Route& route, bool wants_continue,
                                             Exchange& x) {
  StreamStart started = co_await [&]() -> awaitable<StreamStart> {
    try {
      co_return route.stream(x.req);
    } catch (const std::exception& e) {
      spdlog::error("{} {}: handler threw: {}", x.req.method, x.req.path, e.what());
      co_return xrpc_error(500, "InternalServerError", "Internal Server Error");
    }
  }();
  if (auto* r = std::get_if<Response>(&started)) {
    x.resp = std::move(*r);
    co_return true;
  }
  auto sink = std::move(std::get<std::unique_ptr<BodySink>>(started));
  std::optional<Response> failed;
  if (wants_continue && !(co_await send_continue(c))) co_return false;
  if (x.req.has_body) {
    failed = co_await stream_body(c, hp, *sink, x);
  } else {
    x.body_unread = false;
  }
  if (failed) {
    sink.reset();  // discards the partial upload
    x.resp = std::move(*failed);
  } else {
    try {
      x.resp = co_await asio::co_spawn(
          commits, [&]() -> awaitable<Response> { co_return sink->finish(); }, asio::use_awaitable);
    } catch (const std::exception&) {
      x.resp = xrpc_error(500, "InternalServerError", "Internal Server Error");
    }
  }
  co_return true;
}

awaitable<std::optional<Response>> Server::Impl::stream_body(Conn& c, HeadParser& hp, BodySink& sink, Exchange& x) {
  if (c.chunk.size() < kChunk) c.chunk.resize(kChunk);
  // Our own timer cancels (rather than closes, as tcp_stream's would)
  // a stalled read, so the client still gets its 400.
  c.stream.expires_never();
  StallGuard stall(c);
  std::optional<Response> failed;
  if (!hp.chunked() && x.req.content_length) {
    failed = co_await stream_fixed_body(c, sink, stall, x);
  } else {
    failed = co_await stream_parsed_body(c, hp, sink, stall, x);
  }
  if (!failed) {
    x.body_unread = false;
    // Bytes right after a body that do not start a new request mean the
    // body was longer than its Content-Length.
    // (Over TLS only what is already decrypted counts: the socket holds records.)
    auto& sock = beast::get_lowest_layer(c.stream).socket();
    boost::system::error_code aec;
    std::size_t avail = c.stream.is_tls() ? 0 : sock.available(aec);
    if (!aec && avail > 0) {
      auto n = sock.read_some(c.buffer.prepare(std::min<std::size_t>(avail, 64 * 1024)), aec);
      if (!aec) c.buffer.commit(n);
    }
    if (c.buffer.size() > 0 && !is_token_start(c.buffer)) {
      failed = xrpc_error(400, "InvalidRequest", "Request body is longer than its Content-Length");
      x.body_unread = true;
    }
  }
  co_return failed;
}

awaitable<std::optional<Response>> Server::Impl::stream_fixed_body(Conn& c, BodySink& sink, StallGuard& stall,
                                                                   Exchange& x) {
  // A fixed-length body goes from the socket straight into the
  // sink's buffers (the ingest ring): beast's parser would read it
  // into c.buffer first and copy it, a memcpy of every byte.
  std::optional<Response> failed;
  Pace pace = this->pace();
  std::uint64_t left = *x.req.content_length;
  while (left > 0 && !failed) {
    std::span<std::byte> into = sink.next_buffer(c.chunk);
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(into.size(), left));
    std::size_t got = 0;
    if (c.buffer.size() > 0) {  // what arrived with the head
      got = asio::buffer_copy(asio::buffer(into.data(), want), c.buffer.data());
      c.buffer.consume(got);
    } else {
      boost::system::error_code ec;
      Pace::Verdict verdict;
      for (;;) {
        stall.arm(pace.next_wait());
        std::tie(ec, got) = co_await c.stream.async_read_some(asio::buffer(into.data(), want), kNoThrow);
        bool woke = stall.disarm();
        pace.moved(got);
        verdict = pace.check();
        // Woken only to look at the pace, which is fine: read on.
        if (!(woke && ec == asio::error::operation_aborted && verdict == Pace::Verdict::kOk)) break;
      }
      if (ec || verdict != Pace::Verdict::kOk) {
        x.bytes_in += got;
        failed = body_read_error(ec, verdict);
        break;
      }
    }
    left -= got;
    if (got > 0) failed = deliver(sink, std::span<const std::byte>(into.data(), got), x.bytes_in);
  }
  co_return failed;
}

awaitable<std::optional<Response>> Server::Impl::stream_parsed_body(Conn& c, HeadParser& hp, BodySink& sink,
                                                                    StallGuard& stall, Exchange& x) {
  // Chunked (or unknown length): beast's parser frames the body.
  std::optional<Response> failed;
  bhttp::request_parser<bhttp::buffer_body> bp(std::move(hp));
  bp.body_limit(boost::none);  // the sink enforces the configured limit
  Pace pace = this->pace();
  while (!bp.is_done()) {
    std::span<std::byte> into = sink.next_buffer(c.chunk);
    bp.get().body().data = into.data();
    bp.get().body().size = into.size();
    boost::system::error_code ec;
    Pace::Verdict verdict;
    for (;;) {
      stall.arm(pace.next_wait());
      std::size_t n = 0;
      std::tie(ec, n) = co_await bhttp::async_read(c.stream, c.buffer, bp, kNoThrow);
      bool woke = stall.disarm();
      pace.moved(n);
      verdict = pace.check();
      if (!(woke && ec == asio::error::operation_aborted && verdict == Pace::Verdict::kOk)) break;
    }
    if (ec == bhttp::error::need_buffer) ec = {};
    std::size_t got = into.size() - bp.get().body().size;
    if (ec || verdict != Pace::Verdict::kOk) {
      x.bytes_in += got;
      failed = body_read_error(ec, verdict);
      break;
    }
    if (got > 0) {
      failed = deliver(sink, std::span<const std::byte>(into.data(), got), x.bytes_in);
      if (failed) break;
    }
  }
  co_return failed;
}

awaitable<bool> Server::Impl::respond(Conn& c, Exchange& x, std::chrono::steady_clock::time_point start,
                                      bool keep_alive, bool is_head, unsigned version) {
  if (x.body_unread || x.resp.close || stopping) keep_alive = false;
  auto [ok, bytes_out] = co_await write_response(c, x.resp, is_head, keep_alive, version);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics.record_request(x.route_name, x.resp.status, x.bytes_in, bytes_out);
  if (x.upload && x.resp.status == 200) metrics.record_upload(seconds);
  log.log({c.remote, x.req.method, x.req.path, x.route_name, x.req.did, x.resp.status, x.bytes_in, bytes_out,
           seconds * 1000});
  if (!ok) co_return false;
  if (x.body_unread) {
    co_await linger_close(c);
    co_return false;
  }
  co_return keep_alive;
}

}  // namespace blobsync::http
