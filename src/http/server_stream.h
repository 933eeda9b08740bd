// ServerStream: one accepted connection's byte stream, plain TCP or TLS
// chosen at run time (tls_cert/tls_key), so the server and the WebSocket
// sessions are written once for both. TlsContext: the server's certificate
// and key, reloadable (SIGHUP) while connections stay open.
//
// ServerStream is an Asio AsyncReadStream/AsyncWriteStream with one
// completion signature on both paths; TLS reads and writes go through a
// type-erased handler into server_stream.cpp, the only file that includes
// OpenSSL's headers (compile time). get_lowest_layer() finds the
// beast::tcp_stream (timeouts, cancel, close) either way.
//
// Thread safety: a ServerStream is used on its connection's strand only.
// TlsContext::reload() may run on any thread while connections are being
// accepted: each handshake takes the context current at its start, and a
// connection keeps the one it started with.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"

namespace blobsync::http {

class TlsContext {
 public:
  // Reads a PEM certificate (chain allowed: leaf first) and its PEM private
  // key. Errors: kInvalidArgument naming the file and what is wrong with it
  // (missing, not PEM, key not matching the certificate).
  static Result<std::shared_ptr<TlsContext>> load(const std::filesystem::path& cert,
                                                  const std::filesystem::path& key);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Reads both files again. On success new handshakes use the new
  // certificate; on error the old one stays (the error says why).
  Result<> reload();
  // "subject=..., serial=..." of the certificate new handshakes present.
  std::string describe() const;

  struct State;  // the OpenSSL context (server_stream.cpp)
  std::shared_ptr<State> current() const;

 private:
  TlsContext(std::filesystem::path cert, std::filesystem::path key, std::shared_ptr<State> s);
  std::filesystem::path cert_, key_;
  mutable std::mutex mu_;
  std::shared_ptr<State> state_;  // guarded by mu_
};

class ServerStream {
 public:
  using executor_type = boost::beast::tcp_stream::executor_type;
  using next_layer_type = boost::beast::tcp_stream;
  using Handler = boost::asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;

  explicit ServerStream(boost::asio::ip::tcp::socket s);
  ServerStream(ServerStream&&) noexcept;
  ServerStream& operator=(ServerStream&&) = delete;  // as tcp_stream's
  ~ServerStream();

  executor_type get_executor() noexcept { return ex_; }
  next_layer_type& next_layer() noexcept;
  bool is_tls() const noexcept { return tls_ != nullptr; }
  // Timeouts of the underlying tcp_stream (they bound the TLS records too).
  template <class Duration>
  void expires_after(Duration d) {
    next_layer().expires_after(d);
  }
  void expires_never() { next_layer().expires_never(); }

  // Server side of a TLS handshake; `initial` are bytes already read (the
  // ClientHello). The stream is TLS from then on. The caller bounds it with
  // expires_after(). Returns the handshake's error, if any.
  boost::asio::awaitable<boost::system::error_code> start_tls(const TlsContext& ctx,
                                                              boost::asio::const_buffer initial);
  // Sends a TLS close_notify (within 5 s, not waiting for the peer's), then
  // closes (plain TCP: shutdown and close at once).
  void async_shutdown(boost::asio::any_completion_handler<void(boost::system::error_code)> handler);

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (!tls_) return plain_.async_read_some(b, std::move(handler));
          // OpenSSL reads into one buffer at a time anyway.
          boost::asio::mutable_buffer first;
          for (auto it = boost::asio::buffer_sequence_begin(b); it != boost::asio::buffer_sequence_end(b); ++it) {
            if (boost::asio::mutable_buffer(*it).size() > 0) {
              first = *it;
              break;
            }
          }
          tls_read(first, Handler(std::move(handler)));
        },
        token, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (!tls_) return plain_.async_write_some(b, std::move(handler));
          tls_write(gather(b), Handler(std::move(handler)));
        },
        token, buffers);
  }

 
  struct Tls;  // server_stream.cpp

 private:
  // OpenSSL writes one buffer per call: a short first buffer (a response
  // head) is joined with what follows, up to one TLS record, so a small
  // response is one record and one send, not two.
  template <class ConstBuffers>
  boost::asio::const_buffer gather(const ConstBuffers& b) {
    static constexpr std::size_t kRecord = 16 * 1024;
    auto it = boost::asio::buffer_sequence_begin(b), end = boost::asio::buffer_sequence_end(b);
    while (it != end && boost::asio::const_buffer(*it).size() == 0) ++it;
    if (it == end) return {};
    boost::asio::const_buffer first = *it;
    if (first.size() >= kRecord || std::next(it) == end) return first;
    gather_.clear();
    for (; it != end && gather_.size() < kRecord; ++it) {
      boost::asio::const_buffer piece = *it;
      std::size_t take = std::min(piece.size(), kRecord - gather_.size());
      auto* p = static_cast<const unsigned char*>(piece.data());
      gather_.insert(gather_.end(), p, p + take);
    }
    return boost::asio::buffer(gather_);
  }
  void tls_read(boost::asio::mutable_buffer b, Handler h);
  void tls_write(boost::asio::const_buffer b, Handler h);

  executor_type ex_;
  boost::beast::tcp_stream plain_;  // moved into tls_ by start_tls()
  std::unique_ptr<Tls> tls_;
  std::vector<unsigned char> gather_;
};

// WebSocket teardown over a ServerStream (called by the coalescing layer
// in sync/ws_session.cpp): plain TCP as Beast tears a socket down, TLS with
// a close_notify.
inline void teardown(boost::beast::role_type role, ServerStream& s, boost::system::error_code& ec) {
  if (!s.is_tls()) return boost::beast::websocket::teardown(role, s.next_layer().socket(), ec);
  ec = {};
  s.next_layer().close();
}
template <class Handler>
void async_teardown(boost::beast::role_type role, ServerStream& s, Handler&& handler) {
  if (!s.is_tls()) return boost::beast::websocket::async_teardown(role, s.next_layer().socket(), std::forward<Handler>(handler));
  s.async_shutdown(std::forward<Handler>(handler));
}

}  // namespace blobsync::http
