// CoalescingSocket: the next layer of a WebSocket session's Beast stream
// (sync/ws_session.cpp), over an http::ServerStream (plain TCP or TLS).
//
//   - Writes are copied into a buffer and completed at once; the buffer goes
//     to the kernel in one send per round trip, so a burst of messages to a
//     connection costs one system call, not one per message. At most
//     kHighWater bytes are buffered: beyond that a write waits for the
//     kernel (real back-pressure; the session's queue limit then applies).
//   - try_send(): a room's broadcast is written to the socket by the thread
//     that makes it, with one non-blocking gather send (plain TCP, nothing
//     buffered or in flight), so a delivery costs no handler, no completion
//     and no wake-up of the connection's thread; what does not fit the
//     socket buffer is buffered and written asynchronously as usual.
//   - It is Beast's lowest layer (it has no next_layer()), so every close of
//     the socket, Beast's own (timeouts) included, goes through close(); a
//     send from another thread can then never reach a closed descriptor or
//     the connection that reused its number.
//   - Teardown flushes first so the close frame goes out; once Beast wrote a
//     close frame, no data frame follows it.
//
// Thread safety: try_send(), close() and the const observers may be called
// from any thread; everything else on the connection's strand. The write
// state is guarded by an internal mutex, never held while a callback runs.
#pragma once

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/role.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

#include "http/server_stream.h"
#include "sync/connection.h"
#include "sync/ws_read_gate.h"

namespace blobsync::sync {

class CoalescingSocket {
 public:
  using executor_type = boost::asio::any_io_executor;
  static constexpr std::size_t kHighWater = 256u << 10;

  explicit CoalescingSocket(http::ServerStream s) : sock_(std::move(s)) {}
  executor_type get_executor() noexcept { return sock_.get_executor(); }
  // The stream below. Named so, not next_layer(): see above.
  http::ServerStream& stream() noexcept { return sock_; }

  // Beast's reads, counting the bytes delivered to it (read_gate()).
  template <class Buffers, class Token>
  auto async_read_some(const Buffers& b, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const Buffers& bufs) {
          // The handler keeps its executor and cancellation slot.
          auto slot = boost::asio::get_associated_cancellation_slot(handler);
          auto ex = boost::asio::get_associated_executor(handler, sock_.get_executor());
          sock_.async_read_some(
              bufs, boost::asio::bind_cancellation_slot(
                        slot, boost::asio::bind_executor(ex, [this, h = std::move(handler)](
                                                                 boost::system::error_code ec, std::size_t n) mutable {
                          gate_.on_socket_bytes(n);
                          std::move(h)(ec, n);
                        })));
        },
        token, b);
  }
  // What Beast was given and parsed: whether it may hold unread bytes. Strand.
  ReadGate& read_gate() noexcept { return gate_; }

  // Beast's writes (control frames, close): appended whole, completed at once.
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const Buffers& bufs) {
          auto ex = sock_.get_executor();
          auto complete = [ex, h = std::move(handler)](boost::system::error_code ec, std::size_t n) mutable {
            boost::asio::post(ex, boost::asio::append(std::move(h), ec, n));
          };
          std::size_t n = boost::asio::buffer_size(bufs);
          std::unique_lock lock(mu_);
          if (error_) {
            auto ec = error_;
            lock.unlock();
            return complete(ec, 0);
          }
          if (pending_.size() >= kHighWater) {
            std::vector<std::uint8_t> copy(n);
            boost::asio::buffer_copy(boost::asio::buffer(copy), bufs);
            waiting_ = [this, copy = std::move(copy), complete = std::move(complete)](
                           boost::system::error_code ec) mutable {
              if (!ec) {
                std::lock_guard relock(mu_);
                append_beast_locked(copy);
              }
              complete(ec, ec ? 0 : copy.size());
            };
            return;
          }
          std::size_t at = pending_.size();
          pending_.resize(at + n);
          boost::asio::buffer_copy(boost::asio::buffer(pending_.data() + at, n), bufs);
          if (n > 0 && pending_[at] == kCloseFrame) close_sent_ = true;
          flush_locked();
          lock.unlock();
          complete({}, n);
        },
        token, buffers);
  }

  enum class Sent {
    kAll,     // all of it is in the kernel
    kRest,    // part of it is; the rest is buffered: call flush_now() on the strand
    kNo,      // nothing done: the socket is busy or TLS (queue them instead)
    kFailed,  // the send failed: error() says why
  };
  // Sends `msgs` as binary frames at once, in one non-blocking gather send,
  // if the connection is plain TCP, open, and nothing is buffered or being
  // written (so the order stays that of the calls). A closing connection
  // (close frame written, or closed) drops them: kAll. Any thread.
  Sent try_send(std::span<const SharedBytes> msgs);

  // Appends `msgs` as whole unmasked binary frames (a server's data frames,
  // built here, not by Beast: no composed operation and no completion hop
  // per message) while the buffer is below kHighWater, at least one;
  // returns how many (all, dropped, once the connection is closing). Never
  // inside a Beast frame: Beast's writes are appended whole. Call
  // flush_now() after. Strand.
  std::size_t append_frames(std::span<const SharedBytes> msgs);
  // Starts writing what is buffered, unless a write is in flight. Strand.
  void flush_now();
  // Bytes accepted but not yet handed to the kernel.
  std::size_t buffered() const;
  // Bytes of write storage held (capacity), for tests: 0 once idle.
  std::size_t storage_bytes() const;
  // A write that waits for room (Beast's): append nothing before it.
  bool blocked() const;
  boost::system::error_code error() const;
  // Runs fn once everything written so far is in the kernel (or failed). Strand.
  void when_flushed(std::move_only_function<void()> fn);

  // Shuts the socket down both ways and closes it; no send can start after.
  void close();
  // Marks the socket closed for try_send (teardown closes it next). Any thread.
  void stop_sending();

 private:
  // Beast writes one whole frame per call (or the handshake's response);
  // a close frame starts with FIN and opcode 8 (control frames are never
  // fragmented, never compressed).
  static constexpr std::uint8_t kCloseFrame = 0x88;
  void append_beast_locked(std::span<const std::uint8_t> bytes) {
    if (!bytes.empty() && bytes[0] == kCloseFrame) close_sent_ = true;
    pending_.insert(pending_.end(), bytes.begin(), bytes.end());
  }
  void flush_locked();
  void on_written(boost::system::error_code ec);

  http::ServerStream sock_;
  ReadGate gate_;  // the connection's strand only
  mutable std::mutex mu_;
  std::vector<std::uint8_t> pending_, sending_;  // guarded by mu_ (sending_: by the write in flight)
  bool flushing_ = false;                       // guarded by mu_
  bool closed_ = false;                         // guarded by mu_: close() or teardown began
  bool close_sent_ = false;                     // guarded by mu_: Beast wrote a close frame
  boost::system::error_code error_;             // guarded by mu_
  std::move_only_function<void(boost::system::error_code)> waiting_;  // guarded by mu_
  std::vector<std::move_only_function<void()>> drained_;              // guarded by mu_
};

// WebSocket teardown and close for CoalescingSocket (found by argument-dependent lookup).
void teardown(boost::beast::role_type role, CoalescingSocket& s, boost::system::error_code& ec);
template <class Handler>
void async_teardown(boost::beast::role_type role, CoalescingSocket& s, Handler&& handler) {
  s.when_flushed([role, &s, h = std::forward<Handler>(handler)]() mutable {
    s.stop_sending();
    http::async_teardown(role, s.stream(), std::move(h));
  });
}
inline void beast_close_socket(CoalescingSocket& s) { s.close(); }

}  // namespace blobsync::sync
