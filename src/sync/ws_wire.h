// Wire and WireRef: a WebSocket session's socket held apart from Beast's
// stream, so that an idle plain-TCP connection can drop the whole Beast
// stream state (about 2.8 KiB: its read buffer, timer, saved operations)
// and keep only its socket (a dormant connection, sync/ws_session.cpp).
//
//   - Wire owns the connection's CoalescingSocket and what Beast's idle timer
//     would have known: when bytes last came in and when Beast last sent a
//     ping, so the sweep that keeps a dormant connection alive pings and times
//     out as Beast would have.
//   - WireRef is the next layer of the session's Beast stream: it forwards to
//     the Wire's socket and shares ownership of it (a Beast timer handler that
//     outlives the session must never reach a freed socket). While
//     `swallow` is set, writes are completed without reaching the socket: a
//     fresh stream is brought to the open state with a synthetic upgrade
//     request, and its 101 response must never reach the peer.
//   - WireRef is Beast's lowest layer (no next_layer()), as CoalescingSocket
//     is: every close, Beast's own included, goes through CoalescingSocket::close().
//
// Also here: the options each stream gets (configure_stream()), the synthetic
// upgrade a fresh stream accepts, the keep-alive ping and a dormant connection's close frame.
//
// Thread safety: as CoalescingSocket's; the stamps and `swallow` are used on
// the connection's strand only.
#pragma once

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream_base.hpp>

#include <algorithm>
#include <chrono>
#include <string_view>
#include <vector>
#include <cstdint>
#include <memory>
#include <optional>

#include "sync/coalescing_socket.h"
#include "sync/conn_pool.h"
#include "sync/sync_config.h"
#include "sync/ws_read_gate.h"

namespace blobsync::sync {

struct Wire {
  explicit Wire(http::ServerStream s) : sock(std::move(s)) {}
  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  CoalescingSocket sock;
  std::int64_t rx_ms = 0;    // bytes last came in through Beast
  std::int64_t ping_ms = 0;  // Beast last wrote a ping (its idle keep-alive)
  bool swallow = false;      // writes complete without reaching the socket
};

class WireRef {
 public:
  using executor_type = CoalescingSocket::executor_type;
  explicit WireRef(std::shared_ptr<Wire> w) : w_(std::move(w)) {}
  executor_type get_executor() noexcept { return w_->sock.get_executor(); }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& b, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [w = w_](auto handler, const Buffers& bufs) {
          // The handler keeps its executor and cancellation slot.
          auto slot = boost::asio::get_associated_cancellation_slot(handler);
          auto ex = boost::asio::get_associated_executor(handler, w->sock.get_executor());
          w->sock.async_read_some(
              bufs, boost::asio::bind_cancellation_slot(
                        slot, boost::asio::bind_executor(ex, [w, h = std::move(handler)](
                                                                 boost::system::error_code ec, std::size_t n) mutable {
                          if (n > 0) w->rx_ms = Wire::now_ms();
                          std::move(h)(ec, n);
                        })));
        },
        token, b);
  }

  template <class Buffers, class Token>
  auto async_write_some(const Buffers& b, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [w = w_](auto handler, const Buffers& bufs) {
          if (w->swallow) {
            // Completed later, never inside the initiating call (Asio's rule).
            auto ex = w->sock.get_executor();
            return boost::asio::post(
                ex, boost::asio::append(std::move(handler), boost::system::error_code{}, boost::asio::buffer_size(bufs)));
          }
          // A server sends pings only as Beast's idle keep-alive: FIN + opcode 9 starts the frame.
          auto first = boost::asio::buffer_sequence_begin(bufs);
          if (first != boost::asio::buffer_sequence_end(bufs) && boost::asio::const_buffer(*first).size() > 0 &&
              *static_cast<const std::uint8_t*>(boost::asio::const_buffer(*first).data()) == 0x89)
            w->ping_ms = Wire::now_ms();
          w->sock.async_write_some(bufs, std::move(handler));
        },
        token, b);
  }

  Wire& wire() noexcept { return *w_; }

 private:
  std::shared_ptr<Wire> w_;
};

// WebSocket teardown and close for WireRef (found by argument-dependent lookup): the socket's.
inline void teardown(boost::beast::role_type role, WireRef& s, boost::system::error_code& ec) {
  teardown(role, s.wire().sock, ec);
}
template <class Handler>
void async_teardown(boost::beast::role_type role, WireRef& s, Handler&& handler) {
  async_teardown(role, s.wire().sock, std::forward<Handler>(handler));
}
inline void beast_close_socket(WireRef& s) { s.wire().sock.close(); }

// A server's keep-alive ping: FIN + opcode 9, unmasked, no payload (as Beast's idle ping).
inline constexpr std::uint8_t kPingFrame[2] = {0x89, 0x00};

// A server's close frame (unmasked) with `code` and `reason` (cut to fit a control frame's 125 bytes).
inline std::vector<std::uint8_t> close_frame(std::uint16_t code, std::string_view reason) {
  const std::size_t n = 2 + std::min<std::size_t>(reason.size(), 123);
  std::vector<std::uint8_t> f{0x88, static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(code >> 8),
                              static_cast<std::uint8_t>(code)};
  f.insert(f.end(), reason.begin(), reason.begin() + static_cast<std::ptrdiff_t>(n - 2));
  return f;
}

// What a dormant connection's fresh stream accepts: a valid upgrade, never sent by a peer. Its 101
// response is swallowed (ws_wire.h).
inline const boost::beast::http::request<boost::beast::http::empty_body>& synthetic_upgrade() {
  namespace bhttp = boost::beast::http;
  static const auto req = [] {
    bhttp::request<bhttp::empty_body> r(bhttp::verb::get, "/", 11);
    r.set(bhttp::field::host, "dormant");
    r.set(bhttp::field::upgrade, "websocket");
    r.set(bhttp::field::connection, "Upgrade");
    r.set(bhttp::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
    r.set(bhttp::field::sec_websocket_version, "13");
    return r;
  }();
  return req;
}

// A session's Beast stream, its state (~2.4 KiB, dropped when dormant) in pool blocks (conn_pool.h), not
// between the heap's long-lived objects.
template <class Stream>
void emplace_stream(std::optional<Stream>& ws, const std::shared_ptr<Wire>& wire) {
  ConnPool::Scope pooled;
  ws.emplace(WireRef(wire));
}

// The options every stream of a session gets, the first and each one made after dormancy.
template <class Stream>
void configure_stream(Stream& ws, const SyncConfig& config, ReadGate& gate) {
  namespace websocket = boost::beast::websocket;
  ws.binary(true);
  ws.auto_fragment(false);
  ws.read_message_max(config.max_message_bytes);
  ws.write_buffer_bytes(256);  // only used for masking/fragmenting, which a server never does
  websocket::stream_base::timeout timeouts;
  timeouts.handshake_timeout = std::chrono::seconds(30);
  timeouts.idle_timeout = config.ws_idle_timeout;  // a ping after half of it in silence, closed after the rest
  timeouts.keep_alive_pings = true;
  ws.set_option(timeouts);
  // What the read gate counts (ws_read_gate.h): control frames are parsed without a message.
  ws.control_callback([&gate](auto, auto payload) { gate.on_control(payload.size()); });
}

}  // namespace blobsync::sync
