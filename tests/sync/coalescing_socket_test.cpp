// CoalescingSocket (coalescing_socket.h) over a real loopback TCP pair: the
// direct send from another thread, the buffered rest when the socket buffer
// is full, order across both paths, and no send once closed.
#include "sync/coalescing_socket.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/strand.hpp>

#include <thread>

namespace blobsync::sync {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

struct Pair {
  asio::io_context ioc;
  tcp::socket peer{ioc};
  std::unique_ptr<CoalescingSocket> sock;

  explicit Pair(int sndbuf = 0) {
    tcp::acceptor acc(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket server(asio::make_strand(ioc));
    peer.connect(acc.local_endpoint());
    acc.accept(server);
    if (sndbuf) {
      server.set_option(asio::socket_base::send_buffer_size(sndbuf));
      peer.set_option(asio::socket_base::receive_buffer_size(sndbuf));
    }
    sock = std::make_unique<CoalescingSocket>(http::ServerStream(std::move(server)));
  }

  // Reads one binary frame's payload (unmasked, as the server sends them).
  std::vector<std::uint8_t> read_frame() {
    std::uint8_t h[2];
    asio::read(peer, asio::buffer(h));
    EXPECT_EQ(h[0], 0x82);
    std::uint64_t len = h[1] & 0x7f;
    if (len == 126) {
      std::uint8_t e[2];
      asio::read(peer, asio::buffer(e));
      len = (std::uint64_t{e[0]} << 8) | e[1];
    } else if (len == 127) {
      std::uint8_t e[8];
      asio::read(peer, asio::buffer(e));
      len = 0;
      for (auto b : e) len = (len << 8) | b;
    }
    std::vector<std::uint8_t> out(len);
    asio::read(peer, asio::buffer(out));
    return out;
  }
};

SharedBytes msg(std::size_t n, std::uint8_t fill) { return share_bytes(std::vector<std::uint8_t>(n, fill)); }

TEST(CoalescingSocket, AnIdleSocketSendsAtOnceFromAnyThread) {
  Pair p;
  std::vector<SharedBytes> msgs{msg(3, 1), msg(200, 2), msg(70000, 3)};
  CoalescingSocket::Sent r{};
  std::thread([&] { r = p.sock->try_send(msgs); }).join();  // not the socket's thread
  EXPECT_EQ(r, CoalescingSocket::Sent::kAll);
  EXPECT_EQ(p.sock->buffered(), 0u);
  for (auto& m : msgs) EXPECT_EQ(p.read_frame(), *m);
}

TEST(CoalescingSocket, AFullSocketBuffersTheRestAndKeepsOrder) {
  Pair p(16 * 1024);
  // Nobody reads: the kernel takes part, the rest waits in the buffer.
  std::vector<SharedBytes> first;
  for (std::uint8_t i = 0; i < 100; ++i) first.push_back(msg(2000, i));
  auto r = p.sock->try_send(first);
  ASSERT_EQ(r, CoalescingSocket::Sent::kRest);
  EXPECT_GT(p.sock->buffered(), 0u);
  // Busy now: later messages must go behind (the session queues them).
  std::vector<SharedBytes> second{msg(10, 200)};
  EXPECT_EQ(p.sock->try_send(second), CoalescingSocket::Sent::kNo);
  EXPECT_EQ(p.sock->append_frames(second), 1u);
  p.sock->flush_now();
  bool drained = false;
  p.sock->when_flushed([&] { drained = true; });
  std::thread runner([&] { p.ioc.run(); });
  for (auto& m : first) ASSERT_EQ(p.read_frame(), *m);
  EXPECT_EQ(p.read_frame(), *second[0]);
  runner.join();
  EXPECT_TRUE(drained);
  EXPECT_FALSE(p.sock->error());
  // Idle again: straight through.
  EXPECT_EQ(p.sock->try_send(second), CoalescingSocket::Sent::kAll);
  EXPECT_EQ(p.read_frame(), *second[0]);
}

TEST(CoalescingSocket, NothingIsSentOnceClosed) {
  Pair p;
  p.sock->close();
  std::vector<SharedBytes> msgs{msg(5, 9)};
  EXPECT_EQ(p.sock->try_send(msgs), CoalescingSocket::Sent::kAll);  // dropped
  EXPECT_EQ(p.sock->append_frames(msgs), 1u);
  EXPECT_EQ(p.sock->buffered(), 0u);
  boost::system::error_code ec;
  std::uint8_t b;
  asio::read(p.peer, asio::buffer(&b, 1), ec);
  EXPECT_EQ(ec, asio::error::eof);
}

TEST(CoalescingSocket, APeerThatIsGoneFailsTheSend) {
  Pair p;
  p.peer.set_option(asio::socket_base::linger(true, 0));
  p.peer.close();  // RST
  std::vector<SharedBytes> msgs{msg(5, 9)};
  CoalescingSocket::Sent r = CoalescingSocket::Sent::kAll;
  for (int i = 0; i < 100 && r != CoalescingSocket::Sent::kFailed; ++i) {
    r = p.sock->try_send(msgs);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(r, CoalescingSocket::Sent::kFailed);
  EXPECT_TRUE(p.sock->error());
}

TEST(CoalescingSocket, AnIdleSocketKeepsNoWriteStorage) {
  // The buffered path (a 101 response, a busy socket): once all of it is in
  // the kernel, neither buffer keeps its capacity (`v = {}` would have).
  Pair p;
  ASSERT_EQ(p.sock->append_frames(std::vector<SharedBytes>{msg(3000, 7)}), 1u);
  p.sock->flush_now();
  EXPECT_GT(p.sock->storage_bytes(), 0u);
  p.ioc.run();
  EXPECT_EQ(p.sock->buffered(), 0u);
  EXPECT_EQ(p.sock->storage_bytes(), 0u);
  EXPECT_EQ(p.read_frame(), std::vector<std::uint8_t>(3000, 7));
}

}  // namespace
}  // namespace blobsync::sync
