// LocalReplica (src/mesh/local_replica.cpp) against a real Room (RoomManager
// + RoomStore in a temporary directory, no sockets).
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "core/sha256.h"
#include "crdt/doc.h"
#include "crdt/map.h"
#include "store/blob_store.h"
#include "mesh/local_replica.h"
#include "protocol/registry.h"
#include "sync/room_manager.h"
#include "sync/room_store.h"

namespace blobsync::mesh {
namespace {

using namespace std::chrono_literals;

Digest digest_of(std::string_view s) { return Sha256::of(s.data(), s.size()); }

class ReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("mesh-replica-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    StoreOptions so;
    so.data_dir = dir_;
    blobs_ = std::move(BlobStore::open(so).value());
    store_ = std::move(sync::RoomStore::open(dir_ / "meta.db", false).value());
    config_.data_dir = dir_;
    manager_ = std::make_unique<sync::RoomManager>(config_, *store_, *blobs_, nullptr);
    manager_->set_io_context(ioc_);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void TearDown() override {
    std::promise<void> p;
    manager_->stop(false, [&p] { p.set_value(); });
    p.get_future().wait();
    store_->flush();
    work_.reset();
    ioc_.stop();
    thread_.join();
    manager_.reset();
    store_.reset();
    blobs_.reset();
    std::filesystem::remove_all(dir_);
  }

  template <class T>
  T on_replica(LocalReplica& r, std::function<T(crdt::Doc&)> fn) {
    std::promise<T> p;
    r.read([&](crdt::Doc& d) { p.set_value(fn(d)); });
    return p.get_future().get();
  }

  bool eventually(const std::function<bool()>& cond) {
    for (int i = 0; i < 1000; ++i) {
      if (cond()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ = boost::asio::make_work_guard(ioc_);
  std::thread thread_;
  sync::SyncConfig config_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<sync::RoomStore> store_;
  std::unique_ptr<sync::RoomManager> manager_;
};

TEST_F(ReplicaTest, EditsReachOtherReplicasThroughTheRoom) {
  auto room = manager_->acquire("r");
  ASSERT_TRUE(room);
  auto a = LocalReplica::create(ioc_.get_executor(), room);
  auto b = LocalReplica::create(ioc_.get_executor(), room);
  std::atomic<int> registry_changes{0};
  a->start([](crdt::Doc&, const std::vector<std::string>&) {});
  b->start([&](crdt::Doc&, const std::vector<std::string>& keys) { registry_changes += static_cast<int>(keys.size()); });
  ASSERT_TRUE(eventually([&] { return a->synced() && b->synced(); }));

  a->edit([](crdt::Doc& d) { d.get_map("rooms").set("x", crdt::Prelim(crdt::Any(true))); });
  ASSERT_TRUE(eventually([&] {
    return on_replica<bool>(*b, [](crdt::Doc& d) { return d.get_map("rooms").has("x"); });
  }));
  EXPECT_EQ(registry_changes.load(), 0);

  auto h = digest_of("blob");
  a->edit([&](crdt::Doc& d) { protocol::registry_announce(d, h, 5, 1, "ws://other/sync"); });
  ASSERT_TRUE(eventually([&] { return registry_changes.load() > 0; }));
  auto entry = on_replica<std::optional<protocol::RegistryEntry>>(*b, [&](crdt::Doc& d) { return protocol::registry_get(d, h); });
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->holders, std::vector<std::string>{"ws://other/sync"});

  // A late replica gets the whole state from the room.
  auto c = LocalReplica::create(ioc_.get_executor(), room);
  c->start([](crdt::Doc&, const std::vector<std::string>&) {});
  ASSERT_TRUE(eventually([&] { return c->synced(); }));
  EXPECT_TRUE(on_replica<bool>(*c, [](crdt::Doc& d) { return d.get_map("rooms").has("x"); }));
  a->stop();
  b->stop();
  c->stop();
  manager_->release(room);
}


// kThrough (the directory room's): no copy, the room's own document; edits
// reach copying replicas, their edits reach on_change, and after stop() no
// callback runs and edits are dropped.
TEST_F(ReplicaTest, ThroughModeReadsAndWritesTheRoomsDocument) {
  auto room = manager_->acquire("_mesh");
  ASSERT_TRUE(room);
  auto through = LocalReplica::create(ioc_.get_executor(), room, LocalReplica::Mode::kThrough);
  auto copy = LocalReplica::create(ioc_.get_executor(), room);
  std::mutex mu;
  std::vector<std::string> seen;  // the directory's keys, as on_change last saw them
  std::atomic<int> changes{0};
  through->start([&](crdt::Doc& d, const std::vector<std::string>& keys) {
    EXPECT_TRUE(keys.empty());
    std::lock_guard lock(mu);
    seen = d.get_map("rooms").keys();
    ++changes;
  });
  copy->start([](crdt::Doc&, const std::vector<std::string>&) {});
  ASSERT_TRUE(eventually([&] { return through->synced() && copy->synced(); }));

  through->edit([](crdt::Doc& d) { d.get_map("rooms").set("x", crdt::Prelim(crdt::Any(true))); });
  ASSERT_TRUE(eventually([&] {
    return on_replica<bool>(*copy, [](crdt::Doc& d) { return d.get_map("rooms").has("x"); });
  }));
  copy->edit([](crdt::Doc& d) { d.get_map("rooms").set("y", crdt::Prelim(crdt::Any(true))); });
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return seen.size() == 2;
  }));
  EXPECT_TRUE(on_replica<bool>(*through, [](crdt::Doc& d) { return d.get_map("rooms").has("y"); }));

  through->stop();
  int before = changes.load();
  through->edit([](crdt::Doc& d) { d.get_map("rooms").set("z", crdt::Prelim(crdt::Any(true))); });
  copy->edit([](crdt::Doc& d) { d.get_map("rooms").set("w", crdt::Prelim(crdt::Any(true))); });
  ASSERT_TRUE(eventually([&] {
    return on_replica<bool>(*copy, [](crdt::Doc& d) { return d.get_map("rooms").has("w"); });
  }));
  EXPECT_FALSE(on_replica<bool>(*through, [](crdt::Doc& d) { return d.get_map("rooms").has("z"); }));
  EXPECT_EQ(changes.load(), before);
  copy->stop();
  manager_->release(room);
}

}  // namespace
}  // namespace blobsync::mesh
