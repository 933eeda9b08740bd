#include "sync/broadcast_window.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <thread>

namespace blobsync::sync {
namespace {

namespace asio = boost::asio;

SharedBytes bytes(std::uint8_t b) { return share_bytes({b}); }

struct Fixture {
  asio::io_context ioc;
  asio::strand<asio::io_context::executor_type> strand = asio::make_strand(ioc);
  std::vector<std::vector<std::uint8_t>> sends;  // one entry per send_all: the first byte of each message
  BroadcastWindow window{strand, [this](std::span<const SharedBytes> msgs) {
                           std::vector<std::uint8_t> s;
                           for (auto& m : msgs) s.push_back((*m)[0]);
                           sends.push_back(s);
                         }};
  std::shared_ptr<int> owner = std::make_shared<int>(0);
};

TEST(BroadcastWindow, AQuietRoomSendsAtOnce) {
  Fixture f;
  f.window.broadcast({bytes(1)}, f.owner);
  ASSERT_EQ(f.sends.size(), 1u);
  EXPECT_EQ(f.sends[0], std::vector<std::uint8_t>{1});
  std::this_thread::sleep_for(BroadcastWindow::kWindow);
  f.window.broadcast({bytes(2)}, f.owner);  // a window later: at once again
  ASSERT_EQ(f.sends.size(), 2u);
  f.ioc.run();
  EXPECT_EQ(f.sends.size(), 2u);
}

TEST(BroadcastWindow, ABusyRoomSendsOneBatchPerWindowInOrder) {
  Fixture f;
  auto start = std::chrono::steady_clock::now();
  f.window.broadcast({bytes(1)}, f.owner);
  f.window.broadcast({bytes(2)}, f.owner);
  f.window.broadcast({bytes(3), bytes(4)}, f.owner);
  ASSERT_EQ(f.sends.size(), 1u);  // 2..4 held
  EXPECT_EQ(f.owner.use_count(), 2);  // the armed timer keeps the room alive
  f.ioc.run();
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(f.sends.size(), 2u);
  EXPECT_EQ(f.sends[1], (std::vector<std::uint8_t>{2, 3, 4}));
  EXPECT_GE(took, BroadcastWindow::kWindow);
  EXPECT_LT(took, BroadcastWindow::kWindow + std::chrono::milliseconds(500));
  EXPECT_EQ(f.owner.use_count(), 1);
}

TEST(BroadcastWindow, FlushSendsHeldAtOnceAndTheStaleTimerSendsNothing) {
  Fixture f;
  f.window.broadcast({bytes(1)}, f.owner);
  f.window.broadcast({bytes(2)}, f.owner);
  f.window.flush();  // e.g. before a message to one connection
  ASSERT_EQ(f.sends.size(), 2u);
  EXPECT_EQ(f.sends[1], std::vector<std::uint8_t>{2});
  f.window.flush();  // nothing held: no empty send
  f.window.broadcast({bytes(3)}, f.owner);  // within the window of that flush: held
  EXPECT_EQ(f.sends.size(), 2u);
  f.ioc.run();
  ASSERT_EQ(f.sends.size(), 3u);
  EXPECT_EQ(f.sends[2], std::vector<std::uint8_t>{3});
}

TEST(BroadcastWindow, ClearDropsHeldAndReleasesTheOwner) {
  Fixture f;
  f.window.broadcast({bytes(1)}, f.owner);
  f.window.broadcast({bytes(2)}, f.owner);
  f.window.clear();
  f.ioc.run();
  EXPECT_EQ(f.sends.size(), 1u);
  EXPECT_EQ(f.owner.use_count(), 1);
}

// A commit group's broadcast (already spaced by the store) is not held
// again: it goes at once, after whatever the window held, in one batch.
TEST(BroadcastWindow, SendNowSendsHeldThenItsOwnAtOnce) {
  Fixture f;
  f.window.broadcast({bytes(1)}, f.owner);
  f.window.broadcast({bytes(2)}, f.owner);  // held
  f.window.send_now({bytes(3), bytes(4)});
  ASSERT_EQ(f.sends.size(), 2u);
  EXPECT_EQ(f.sends[1], (std::vector<std::uint8_t>{2, 3, 4}));
  f.window.send_now({bytes(5)});  // within the window, nothing held: at once too
  ASSERT_EQ(f.sends.size(), 3u);
  EXPECT_EQ(f.sends[2], std::vector<std::uint8_t>{5});
  f.ioc.run();  // the cancelled timer sends nothing
  EXPECT_EQ(f.sends.size(), 3u);
}

}  // namespace
}  // namespace blobsync::sync
