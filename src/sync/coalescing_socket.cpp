// The WebSocket session's write layer (see coalescing_socket.h).
#include "sync/coalescing_socket.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <boost/asio/write.hpp>

#include <cerrno>

namespace blobsync::sync {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// Frames per try_send: two iovecs each, well under IOV_MAX (1024).
constexpr std::size_t kMaxFrames = 256;

// Writes the header of an unmasked binary frame of `len` payload bytes.
std::size_t frame_head(std::uint8_t* head, std::uint64_t len) {
  std::size_t n = 0;
  head[n++] = 0x82;  // FIN, binary
  if (len < 126) {
    head[n++] = static_cast<std::uint8_t>(len);
  } else if (len <= 0xffff) {
    head[n++] = 126;
    head[n++] = static_cast<std::uint8_t>(len >> 8);
    head[n++] = static_cast<std::uint8_t>(len);
  } else {
    head[n++] = 127;
    for (int shift = 56; shift >= 0; shift -= 8) head[n++] = static_cast<std::uint8_t>(len >> shift);
  }
  return n;
}

}  // namespace

CoalescingSocket::Sent CoalescingSocket::try_send(std::span<const SharedBytes> msgs) {
  if (msgs.empty()) return Sent::kAll;
  // TLS records are made by the connection's engine, on its strand only.
  if (msgs.size() > kMaxFrames || sock_.is_tls()) return Sent::kNo;
  std::uint8_t heads[kMaxFrames][10];
  iovec iov[2 * kMaxFrames];
  std::size_t k = 0, total = 0;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const auto& m = *msgs[i];
    std::size_t hn = frame_head(heads[i], m.size());
    iov[k++] = {heads[i], hn};
    if (!m.empty()) iov[k++] = {const_cast<std::uint8_t*>(m.data()), m.size()};
    total += hn + m.size();
  }
  if (total > kHighWater) return Sent::kNo;  // the buffered path bounds what one connection holds
  std::lock_guard lock(mu_);
  if (closed_ || close_sent_) return Sent::kAll;  // closing: nothing more goes out
  if (error_) return Sent::kFailed;
  if (flushing_ || !pending_.empty() || waiting_) return Sent::kNo;
  msghdr mh{};
  mh.msg_iov = iov;
  mh.msg_iovlen = k;
  // Under the lock, after the closed_ check: close() takes it first, so the
  // descriptor is still this connection's.
  int fd = sock_.next_layer().socket().native_handle();
  ssize_t r;
  do {
    r = ::sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (r < 0 && errno == EINTR);
  std::size_t sent = 0;
  if (r >= 0) {
    sent = static_cast<std::size_t>(r);
  } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
    error_ = error_code(errno, boost::system::system_category());
    return Sent::kFailed;
  }
  if (sent == total) return Sent::kAll;
  // The socket buffer is full: the rest waits for the asynchronous write.
  for (std::size_t i = 0; i < k; ++i) {
    auto* p = static_cast<const std::uint8_t*>(iov[i].iov_base);
    std::size_t len = iov[i].iov_len;
    if (sent >= len) {
      sent -= len;
      continue;
    }
    pending_.insert(pending_.end(), p + sent, p + len);
    sent = 0;
  }
  return Sent::kRest;
}

std::size_t CoalescingSocket::append_frames(std::span<const SharedBytes> msgs) {
  std::lock_guard lock(mu_);
  if (closed_ || close_sent_) return msgs.size();  // closing: dropped
  std::size_t k = 0;
  for (; k < msgs.size() && (k == 0 || pending_.size() < kHighWater); ++k) {
    const auto& m = *msgs[k];
    std::uint8_t head[10];
    std::size_t hn = frame_head(head, m.size());
    pending_.insert(pending_.end(), head, head + hn);
    pending_.insert(pending_.end(), m.begin(), m.end());
  }
  return k;
}

void CoalescingSocket::flush_now() {
  std::lock_guard lock(mu_);
  flush_locked();
}

std::size_t CoalescingSocket::buffered() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

std::size_t CoalescingSocket::storage_bytes() const {
  std::lock_guard lock(mu_);
  return pending_.capacity() + sending_.capacity();
}

bool CoalescingSocket::blocked() const {
  std::lock_guard lock(mu_);
  return static_cast<bool>(waiting_);
}

error_code CoalescingSocket::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

void CoalescingSocket::when_flushed(std::move_only_function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (flushing_ || !pending_.empty()) {
      drained_.push_back(std::move(fn));
      return;
    }
  }
  fn();
}

void CoalescingSocket::flush_locked() {
  if (flushing_ || pending_.empty()) return;
  flushing_ = true;
  std::swap(pending_, sending_);
  // Completes through the executor, never inline: the lock is not re-entered.
  asio::async_write(sock_, asio::buffer(sending_), [this](error_code ec, std::size_t) { on_written(ec); });
}

void CoalescingSocket::on_written(error_code ec) {
  std::move_only_function<void(error_code)> waiting;
  error_code err;
  {
    std::lock_guard lock(mu_);
    flushing_ = false;
    sending_.clear();
    // `v = {}` would keep the capacity (it assigns an empty initializer list): move-assign.
    if (sending_.capacity() > (64u << 10)) sending_ = std::vector<std::uint8_t>();  // idle connections stay small
    if (ec) {
      error_ = ec;
      pending_.clear();
    }
    waiting = std::exchange(waiting_, nullptr);
    err = error_;
  }
  if (waiting) waiting(err);
  std::vector<std::move_only_function<void()>> drained;
  {
    std::lock_guard lock(mu_);
    flush_locked();
    if (!flushing_ && pending_.empty()) {
      drained = std::exchange(drained_, {});
      // Nothing left to write: an idle connection keeps no write storage (the 101
      // response's bytes stayed otherwise). try_send() needs none; the next async write allocates.
      pending_ = std::vector<std::uint8_t>();
      sending_ = std::vector<std::uint8_t>();
    }
  }
  for (auto& fn : drained) fn();
}

void CoalescingSocket::stop_sending() {
  std::lock_guard lock(mu_);
  closed_ = true;
}

void CoalescingSocket::close() {
  stop_sending();
  error_code ignored;
  sock_.next_layer().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  sock_.next_layer().close();
}

void teardown(boost::beast::role_type role, CoalescingSocket& s, error_code& ec) {
  s.stop_sending();
  http::teardown(role, s.stream(), ec);
}

}  // namespace blobsync::sync
