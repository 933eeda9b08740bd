// Unit tests of the mesh's pure parts (backoff, the pruning rule, reports)
// and of LocalReplica against a real Room (RoomManager + RoomStore in a
// temporary directory, no sockets).
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "core/sha256.h"
#include "crdt/doc.h"
#include "crdt/map.h"
#include "store/blob_store.h"
#include "mesh/backoff.h"
#include "mesh/heal.h"
#include "mesh/holder_health.h"
#include "mesh/local_replica.h"
#include "mesh/mesh_config.h"
#include "mesh/mesh_report.h"
#include "protocol/registry.h"
#include "sync/room_manager.h"
#include "sync/room_store.h"

namespace blobsync::mesh {
namespace {

using namespace std::chrono_literals;

Digest digest_of(std::string_view s) { return Sha256::of(s.data(), s.size()); }

TEST(Backoff, GrowsJitteredAndCapped) {
  Backoff b(100ms, 1000ms);
  auto d0 = b.next();
  EXPECT_GE(d0, 50ms);
  EXPECT_LE(d0, 100ms);
  auto d1 = b.next();
  EXPECT_GE(d1, 100ms);
  EXPECT_LE(d1, 200ms);
  for (int i = 0; i < 50; ++i) {
    auto d = b.next();
    EXPECT_LE(d, 1000ms);
    EXPECT_GE(d, 50ms);
  }
  // Late delays sit in the upper half of the cap.
  EXPECT_GE(b.next(), 500ms);
  b.reset();
  EXPECT_LE(b.next(), 100ms);
}

TEST(Replication, ParsesBothModes) {
  EXPECT_EQ(parse_replication("all").value(), Replication::kAll);
  EXPECT_EQ(parse_replication("on-demand").value(), Replication::kOnDemand);
  EXPECT_FALSE(parse_replication("some"));
  EXPECT_EQ(replication_name(Replication::kOnDemand), "on-demand");
}

TEST(HolderHealth, DownSinceKeepsTheStartOfARun) {
  HolderHealth h;
  auto t0 = Clock::now();
  EXPECT_FALSE(h.down_since("a"));
  h.unreachable("a", t0);
  h.unreachable("a", t0 + 5s);
  EXPECT_EQ(h.down_since("a"), t0);
  h.reachable("a");
  EXPECT_FALSE(h.down_since("a"));
  h.unreachable("a", t0 + 9s);
  EXPECT_EQ(h.down_since("a"), t0 + 9s);
}

TEST(HealPlan, AsksListedPeersOnlyAndWithdrawsWhereOthersHoldIt) {
  const std::string self = "ws://me/sync", p1 = "ws://p1/sync", p2 = "ws://p2/sync", stranger = "ws://evil/sync";
  std::vector<std::string> peers = {p1, p2};
  RoomEntries entries = {
      {"lonely", {{self}, 10, 1}},                 // only us: stay listed, nobody else to ask
      {"strange", {{self, stranger}, 10, 1}},      // another holder, not a peer: withdraw, never dial it
      {"album", {{self, p2, stranger}, 700, 3}},  // a peer holds it: ask it, fetch in this room
  };
  auto plan = plan_heal(entries, self, peers);
  EXPECT_EQ(plan.holders, std::vector<std::string>{p2});
  ASSERT_TRUE(plan.room);
  EXPECT_EQ(*plan.room, "album");
  EXPECT_EQ(plan.withdraw_from, (std::vector<std::string>{"strange", "album"}));

  // No peer listed anywhere (e.g. the blob came in over HTTP): ask every peer, in no particular room.
  auto blind = plan_heal({{"lonely", {{self}, 10, 1}}}, self, peers);
  EXPECT_EQ(blind.holders, peers);
  EXPECT_FALSE(blind.room);
  EXPECT_TRUE(blind.withdraw_from.empty());
  EXPECT_TRUE(plan_heal({}, self, {}).holders.empty());
}

TEST(PrunePlan, OnlyLongDeadHoldersOfBlobsWeHoldAndAreListedFor) {
  const std::string self = "ws://me/sync", dead = "ws://dead/sync", alive = "ws://alive/sync", brief = "ws://brief/sync";
  auto now = Clock::now();
  HolderHealth h;
  h.unreachable(dead, now - 2h);
  h.unreachable(brief, now - 1min);
  auto x = digest_of("x"), y = digest_of("y"), z = digest_of("z");
  std::vector<std::pair<Digest, protocol::RegistryEntry>> entries = {
      {x, {{self, dead, alive, brief}, 10, 1}},  // held, listed: prune dead only
      {y, {{dead, alive}, 10, 1}},               // not listed: leave alone
      {z, {{self, dead}, 10, 1}},                // listed but not held: leave alone
  };
  auto holds = [&](const Digest& d) { return d == x || d == y; };
  auto plan = plan_prunes(entries, self, holds, h, now, 1h);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0], (PruneAction{x, dead}));
  EXPECT_TRUE(plan_prunes(entries, self, holds, h, now, 3h).empty());  // not dead long enough
  EXPECT_TRUE(plan_prunes(entries, self, holds, h, now, 0ms).empty());  // disabled
  // A holder this server never dials has no health of its own: never pruned,
  // whatever its string's health says; an admitted one is looked up by its dial URL.
  h.unreachable("ws://dead:80/sync", now - 2h);
  auto key = [&](const std::string& holder) -> std::optional<std::string> {
    if (holder == dead) return std::nullopt;
    if (holder == alive) return std::string("ws://dead:80/sync");
    return holder;
  };
  plan = plan_prunes(entries, self, holds, h, now, 1h, key);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0], (PruneAction{x, alive}));
}

TEST(MeshReport, JsonRoundTripsAndMetricsNamePeers) {
  MeshReport r;
  r.self = "ws://a/sync";
  r.replication = "all";
  r.rooms = 3;
  r.blobs_replicated = 7;
  r.blobs_too_large = 2;
  r.holders_refused = 4;
  PeerReport p;
  p.url = "ws://b/sync";
  p.state = "down";
  p.rooms = 3;
  p.blobs_pending = 2;
  p.blobs_failed = 1;
  p.down_for_seconds = 12.5;
  p.last_error = "connection refused";
  r.peers.push_back(p);
  auto back = parse_peers_json(render_peers_json(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->self, r.self);
  EXPECT_EQ(back->rooms, 3u);
  EXPECT_EQ(back->blobs_replicated, 7u);
  EXPECT_EQ(back->blobs_too_large, 2u);
  EXPECT_EQ(back->holders_refused, 4u);
  ASSERT_EQ(back->peers.size(), 1u);
  EXPECT_EQ(back->peers[0].state, "down");
  EXPECT_EQ(back->peers[0].blobs_pending, 2u);
  EXPECT_DOUBLE_EQ(back->peers[0].down_for_seconds.value(), 12.5);
  auto text = render_mesh_metrics(r);
  EXPECT_NE(text.find("blobsync_mesh_peer_up{peer=\"ws://b/sync\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("blobsync_mesh_peer_blobs_pending{peer=\"ws://b/sync\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("blobsync_mesh_blobs_replicated_total 7\n"), std::string::npos);
  EXPECT_NE(text.find("blobsync_mesh_blobs_too_large 2\n"), std::string::npos);
  EXPECT_NE(text.find("blobsync_mesh_holders_refused 4\n"), std::string::npos);
  EXPECT_FALSE(parse_peers_json("not json"));
}

// LocalReplica against a real room: two replicas of one room see each
// other's edits (through the room) and the registry flag.
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

}  // namespace
}  // namespace blobsync::mesh
