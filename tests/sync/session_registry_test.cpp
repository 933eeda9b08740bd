// SessionRegistry (sync/ws_session.h): counting, closing every session, and
// the sweep's life: it calls sweep() on live sessions and, once stopped at
// shutdown, never again (it posts to io_contexts that may be gone by then).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "sync/ws_session.h"

namespace blobsync::sync {
namespace {

class CountingConnection final : public Connection {
 public:
  ConnId id() const override { return 1; }
  void send(std::vector<SharedBytes>) override {}
  void close(std::uint16_t code, std::string_view) override { closed_with = code; }
  std::int64_t last_send_ms() const override { return 0; }
  void sweep(std::int64_t) override { ++sweeps; }
  std::atomic<int> sweeps{0};
  std::atomic<int> closed_with{0};
};

// Waits up to `limit` for `done`, polling.
template <class F>
bool eventually(F done, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

TEST(SessionRegistry, SweepsLiveSessionsUntilStopped) {
  SessionRegistry registry;
  auto conn = std::make_shared<CountingConnection>();
  auto id = registry.add(conn);
  EXPECT_EQ(registry.size(), 1u);
  ASSERT_TRUE(eventually([&] { return conn->sweeps.load() >= 2; }, std::chrono::seconds(10)));

  registry.close_all(1001, "server shutting down");
  EXPECT_EQ(conn->closed_with.load(), 1001);
  registry.stop_sweep();
  const int after_stop = conn->sweeps.load();
  // A session added after the stop (a late upgrade while draining) starts no new sweep.
  auto late = std::make_shared<CountingConnection>();
  registry.add(late);
  std::this_thread::sleep_for(SessionRegistry::kSweepPeriod * 3);
  EXPECT_EQ(conn->sweeps.load(), after_stop);
  EXPECT_EQ(late->sweeps.load(), 0);
  registry.remove(id);
  EXPECT_EQ(registry.size(), 1u);
}

TEST(SessionRegistry, AnEndedSessionIsNotSwept) {
  SessionRegistry registry;
  auto conn = std::make_shared<CountingConnection>();
  registry.add(conn);
  std::weak_ptr<CountingConnection> weak = conn;
  conn.reset();  // the registry holds it weakly: the session is gone
  EXPECT_TRUE(weak.expired());
  std::this_thread::sleep_for(SessionRegistry::kSweepPeriod * 2);  // the sweep runs over a dead entry
  EXPECT_EQ(registry.size(), 1u);  // until its session removes it
}

}  // namespace
}  // namespace blobsync::sync
