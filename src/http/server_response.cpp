// Writing a Response on a connection: the head and a string body, or a blob
// from the store with sendfile(2) (over TLS: encrypted from a mapping of the
// file; through a buffer when the backend has no local file), every write
// bounded by body_timeout and a blob's by min_transfer_rate too (Pace,
// server_impl.h). On plain TCP a blob's head is sent with MSG_MORE so that it
// leaves with the body's first bytes.
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <functional>
#include <memory>

#include "http/server_impl.h"

namespace blobsync::http {

namespace {

// The head of a blob response written by hand: what beast's serializer would
// write for it (status line, Server, the handler's fields in order,
// Content-Length, Connection as keep_alive() sets it), without building a
// field list and a serializer for each request. nullopt for anything unusual
// (a CR, LF or NUL in a field, a name set twice or one of those written
// here), which then goes through beast.
// A field name or value that can go into the head as it is: no CR, LF or NUL
// (one pass over the bytes: three find_first_of scans of each value were the
// largest user-space cost of a 16 KiB download, perf).
bool clean_field(std::string_view v) {
  for (char ch : v)
    if (ch == '\r' || ch == '\n' || ch == '\0') return false;
  return true;
}

void append_number(std::string& out, std::uint64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, end);
}

std::optional<std::string> blob_head(const Response& r, bool keep_alive, unsigned version) {
  if (version != 11 && version != 10) return std::nullopt;
  std::string_view reason = bhttp::obsolete_reason(static_cast<bhttp::status>(r.status));
  std::string out;
  out.reserve(384);
  out += version == 11 ? "HTTP/1.1 " : "HTTP/1.0 ";
  append_number(out, static_cast<std::uint64_t>(r.status));
  out += ' ';
  out += reason;
  out += "\r\nServer: blobsync\r\n";
  for (std::size_t i = 0; i < r.headers.size(); ++i) {
    const auto& [k, v] = r.headers[i];
    if (k.empty() || k.find_first_of(": \t") != std::string::npos || !clean_field(k) || !clean_field(v))
      return std::nullopt;
    for (std::size_t j = 0; j < i; ++j)  // beast keeps the last of a name set twice
      if (beast::iequals(r.headers[j].first, k)) return std::nullopt;
    if (beast::iequals(k, "content-length") || beast::iequals(k, "connection") || beast::iequals(k, "server"))
      return std::nullopt;
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  if (version == 11 && !keep_alive) out += "Connection: close\r\n";
  if (version == 10 && keep_alive) out += "Connection: keep-alive\r\n";
  out += "Content-Length: ";
  append_number(out, r.blob_length);
  out += "\r\n\r\n";
  return out;
}

}  // namespace

awaitable<std::pair<bool, std::uint64_t>> Server::Impl::write_response(Conn& c, Response& r, bool head,
                                                                       bool keep_alive, unsigned version) {
  std::uint64_t sent = 0;
  c.stream.expires_after(cfg.body_timeout);
  // A blob's head goes out with MSG_MORE (send_pushed): not for an empty
  // body (nothing would follow to push the head out), and on plain TCP
  // only (over TLS every byte goes through the TLS stream).
  bool push = r.blob && !head && r.blob_length > 0 && r.blob->native_fd() >= 0 && !c.stream.is_tls();
  if (push) {
    if (auto h = blob_head(r, keep_alive, version)) {
      bool ok = co_await send_pushed(c, r, *h, sent);
      co_return std::pair{ok, sent};
    }
  }
  bhttp::response<bhttp::string_body> res;
  res.version(version);
  res.result(static_cast<unsigned>(r.status));
  res.set(bhttp::field::server, "blobsync");
  for (auto& [k, v] : r.headers) res.set(k, v);
  res.keep_alive(keep_alive);
  if (r.blob) {
    res.content_length(r.blob_length);
    bhttp::response_serializer<bhttp::string_body> sr(res);
    if (push) {  // a head blob_head() declined: beast writes it, sent the same way
      sr.split(true);
      std::string bytes;
      boost::system::error_code sec;
      while (!sec && !sr.is_header_done())
        sr.next(sec, [&](boost::system::error_code&, const auto& bufs) {
          for (auto b : beast::buffers_range_ref(bufs)) bytes.append(static_cast<const char*>(b.data()), b.size());
          sr.consume(beast::buffer_bytes(bufs));
        });
      if (sec) co_return std::pair{false, sent};
      bool ok = co_await send_pushed(c, r, bytes, sent);
      co_return std::pair{ok, sent};
    }
    auto [ec, n] = co_await bhttp::async_write_header(c.stream, sr, kNoThrow);
    if (ec) co_return std::pair{false, sent};
    if (head) co_return std::pair{true, sent};
    bool ok = co_await send_blob(c, r, sent);
    co_return std::pair{ok, sent};
  }
  res.body() = std::move(r.body);
  res.prepare_payload();
  // A 204 has no body by definition and must not carry Content-Length (RFC 9110, 8.6).
  if (r.status == 204) res.erase(bhttp::field::content_length);
  if (head) {
    bhttp::response_serializer<bhttp::string_body> sr(res);
    auto [ec, n] = co_await bhttp::async_write_header(c.stream, sr, kNoThrow);
    co_return std::pair{!ec, sent};
  }
  sent = res.body().size();
  auto [ec, n] = co_await bhttp::async_write(c.stream, res, kNoThrow);
  co_return std::pair{!ec, ec ? 0 : sent};
}

awaitable<bool> Server::Impl::send_pushed(Conn& c, Response& r, const std::string& head, std::uint64_t& sent) {
  // The head goes out with MSG_MORE, so the kernel sends it in one segment
  // with the start of the body (one push and one wake-up of the client
  // instead of two: nginx's tcp_nopush). Whatever did not fit in the socket
  // buffer is written the ordinary way.
  auto& sock = beast::get_lowest_layer(c.stream).socket();
  std::size_t off = 0;
  ssize_t n = ::send(sock.native_handle(), head.data(), head.size(), MSG_MORE | MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n > 0) off = static_cast<std::size_t>(n);
  else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) co_return false;
  if (off < head.size()) {
    auto [ec, w] = co_await asio::async_write(c.stream, asio::buffer(head.data() + off, head.size() - off), kNoThrow);
    if (ec) co_return false;
  }
  co_return co_await send_blob(c, r, sent);
}

awaitable<bool> Server::Impl::send_blob(Conn& c, Response& r, std::uint64_t& sent) {
  auto& reader = *r.blob;
  std::uint64_t remaining = r.blob_length;
  auto& sock = beast::get_lowest_layer(c.stream).socket();
  int fd = reader.native_fd();
  if (fd >= 0 && c.stream.is_tls()) {
    // sendfile(2) cannot encrypt. OpenSSL reads the file's pages where they
    // are (a mapping of 4 MiB at a time): copying them into a buffer first
    // was a quarter of the server's time in a TLS download (perf, bench/tls.sh).
    static const std::uint64_t kPage = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    constexpr std::uint64_t kWindow = 4u << 20;
    Pace pace = this->pace();
    while (remaining > 0) {
      std::uint64_t off = reader.native_offset();
      std::uint64_t base = off - off % kPage;
      std::uint64_t len = std::min<std::uint64_t>(remaining, kWindow);
      std::size_t map_len = static_cast<std::size_t>(off - base + len);
      void* m = ::mmap(nullptr, map_len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, static_cast<off_t>(base));
      if (m == MAP_FAILED) {
        spdlog::warn("mmap of a blob: {}", std::strerror(errno));
        co_return false;
      }
      std::unique_ptr<void, std::function<void(void*)>> unmap(m, [map_len](void* p) { ::munmap(p, map_len); });
      const auto* p = static_cast<const std::byte*>(m) + (off - base);
      for (std::uint64_t done = 0; done < len;) {
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(len - done, kChunk));
        c.stream.expires_after(cfg.body_timeout);
        auto [ec, w] = co_await asio::async_write(c.stream, asio::buffer(p + done, n), kNoThrow);
        if (ec) co_return false;
        done += n;
        reader.advance(n);
        remaining -= n;
        sent += n;
        pace.moved(n);
        if (pace.check() != Pace::Verdict::kOk) co_return false;
      }
    }
    co_return true;
  }
  if (fd >= 0) {
    boost::system::error_code ec;
    // Once per connection: setting it is an ioctl each time, a fifth of the
    // system calls of a small download.
    if (!sock.native_non_blocking()) sock.native_non_blocking(true, ec);
    if (ec) co_return false;
    // Made only when the socket is full: most small responses never wait,
    // and a guard is a timer and an allocation.
    std::optional<StallGuard> stall;
    Pace pace = this->pace();
    while (remaining > 0) {
      off_t off = static_cast<off_t>(reader.native_offset());
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, 1u << 30));
      ssize_t n = ::sendfile(sock.native_handle(), fd, &off, want);
      if (n > 0) {
        reader.advance(static_cast<std::uint64_t>(n));
        remaining -= static_cast<std::uint64_t>(n);
        sent += static_cast<std::uint64_t>(n);
        pace.moved(static_cast<std::uint64_t>(n));
        if (pace.check() != Pace::Verdict::kOk) co_return false;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        // Wait until the client drains its window, but not forever, and
        // not at a trickle (Pace: body_timeout, min_transfer_rate).
        if (!stall) stall.emplace(c);
        stall->arm(pace.next_wait());
        auto [wec] = co_await sock.async_wait(tcp::socket::wait_write, kNoThrow);
        bool woke = stall->disarm();
        if (wec && !woke) co_return false;
        if (auto v = pace.check(); v != Pace::Verdict::kOk) {
          spdlog::debug("{}: response cut, the client reads {}", c.remote,
                        v == Pace::Verdict::kSlow ? "slower than min_transfer_rate" : "nothing within body_timeout");
          co_return false;
        }
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
  Pace pace = this->pace();
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
    pace.moved(*n);
    if (pace.check() != Pace::Verdict::kOk) co_return false;
  }
  co_return true;
}

}  // namespace blobsync::http
