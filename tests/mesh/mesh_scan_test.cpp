// The mesh's registry scan (mesh_scan.cpp, Impl::scan/act), reached the only way
// it can be: a real Mesh on a real SyncEndpoint, whose one peer refuses
// connections (127.0.0.1:1). A room stored before the mesh starts lists
//   A  held here, listed only for the peer  -> the scan announces this server
//   B  not held, listed for the peer        -> the replicator is asked for it
//                                              (and fails: the peer is down)
//   C  not held, listed for a stranger      -> never dialed (refused holder)
// The scan's decisions are seen through the room's registry and
// Mesh::report(); the mesh runs its own threads, so the test polls with a
// deadline.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "../sync/sync_test_util.h"
#include "core/sha256.h"
#include "crdt/doc.h"
#include "store/shared_store.h"
#include "mesh/mesh.h"
#include "protocol/registry.h"
#include "sync/room.h"
#include "sync/room_manager.h"
#include "sync/room_store.h"
#include "sync/sync_endpoint.h"

namespace blobsync::mesh {
namespace {

using namespace std::chrono_literals;
using sync::testing::ClientDoc;
using sync::testing::FakeConnection;
using sync::testing::parse_sync;
using sync::testing::ScratchDir;

constexpr char kSelf[] = "ws://self.test:3913/sync";
constexpr char kPeer[] = "ws://127.0.0.1:1/sync";  // nothing listens: refused at once
constexpr char kStranger[] = "ws://stranger.test/sync";

// Polls cond (it reads state other threads change) until it holds or 5 s pass.
bool eventually(const std::function<bool()>& cond) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST(MeshScan, AnnouncesHeldBlobsAndFetchesOnlyFromAdmittedHolders) {
  ScratchDir dir;
  SharedStoreOptions so;
  so.data_dir = dir.path();
  auto shared = open_shared_store(so);
  ASSERT_TRUE(shared) << shared.error().to_string();
  auto& blobs = *shared->store;
  std::string held = "a blob this server has";
  auto put = blobs.put_bytes(std::as_bytes(std::span(held.data(), held.size())), PutOptions{});
  ASSERT_TRUE(put);
  const Digest a = put->hash, b = Sha256::of("on the peer only", 16), c = Sha256::of("a stranger's", 12);

  sync::SyncConfig config;
  config.url = kSelf;
  config.data_dir = dir.path();
  config.fsync = false;

  // The room's registry, written by a client before this server's mesh runs.
  {
    auto store = sync::RoomStore::open(dir.path() / "meta.db", false);
    ASSERT_TRUE(store);
    boost::asio::io_context ioc;
    auto work = boost::asio::make_work_guard(ioc);
    sync::RoomManager manager(config, **store, blobs, nullptr);
    manager.set_io_context(ioc);
    auto room = manager.acquire("album");
    ASSERT_TRUE(room);
    auto conn = std::make_shared<FakeConnection>(1);
    bool ready = false;
    room->join(conn, [&](bool ok) { ready = ok; });
    ASSERT_TRUE(sync::testing::run_until(ioc, [&] { return ready; }));
    ClientDoc client(5);
    bool done = false;
    room->message(1, false, client.edit([&](crdt::Doc& d) {
      d.transact([&](crdt::Transaction&) {
        protocol::registry_announce(d, a, held.size(), 1, kPeer);
        protocol::registry_announce(d, b, 100, 1, kPeer);
        protocol::registry_announce(d, c, 100, 1, kStranger);
      });
    }), [&] { done = true; });
    ASSERT_TRUE(sync::testing::run_until(ioc, [&] { return done && conn->count() >= 2; }));  // durable
    manager.release(room);
    bool stopped = false;
    manager.stop(false, [&] { stopped = true; });
    ASSERT_TRUE(sync::testing::run_until(ioc, [&] { return stopped; }));
    (*store)->flush();
  }

  auto sync = sync::SyncEndpoint::create(config, blobs);
  ASSERT_TRUE(sync) << sync.error().to_string();
  MeshConfig mc;
  mc.peers = {kPeer};
  mc.tick_interval = 50ms;
  mc.io_threads = 1;
  mc.threads = 1;
  mc.connect_timeout = 2s;
  auto mesh = Mesh::create(mc, **sync, blobs);
  ASSERT_TRUE(mesh) << mesh.error().to_string();
  (*mesh)->start();

  // B is fetched from the peer (and fails); C's stranger is never dialed.
  ASSERT_TRUE(eventually([&] { return (*mesh)->report().fetch_failures >= 1; }))
      << "the scan never asked the replicator for the blob listed on the peer";
  auto report = (*mesh)->report();
  EXPECT_EQ(report.fetch_failures, 1u);  // B only: A is held, C has no admitted holder
  EXPECT_EQ(report.holders_refused, 1u);
  EXPECT_EQ(report.blobs_replicated, 0u);
  EXPECT_GE(report.rooms, 2u);  // the directory room and "album"
  ASSERT_EQ(report.peers.size(), 1u);
  EXPECT_EQ(report.peers[0].url, kPeer);
  EXPECT_EQ(report.peers[0].blobs_failed, 1u);

  // A: held and listed only for the peer, so the scan announced this server.
  auto room = (*sync)->rooms().acquire("album");
  ASSERT_TRUE(room);
  auto conn = std::make_shared<FakeConnection>(99);
  std::atomic<int> ready{0};
  room->join(conn, [&](bool ok) { ready = ok ? 1 : 2; });
  ASSERT_TRUE(eventually([&] { return ready.load() != 0; }));
  ASSERT_EQ(ready.load(), 1);
  std::optional<protocol::RegistryEntry> entry_a, entry_b, entry_c;
  ASSERT_TRUE(eventually([&] {
    std::atomic<bool> done{false};
    room->message(99, false, sync::testing::sync_msg(0, crdt::Bytes{0}), [&] { done = true; });
    if (!eventually([&] { return done.load(); })) return false;
    ClientDoc view(6);
    auto msgs = conn->messages();
    for (auto it = msgs.rbegin(); it != msgs.rend(); ++it) {
      auto p = parse_sync(*it);
      if (p && p->sub == 1) {
        view.apply({*it});
        break;
      }
    }
    entry_a = protocol::registry_get(view.doc(), a);
    entry_b = protocol::registry_get(view.doc(), b);
    entry_c = protocol::registry_get(view.doc(), c);
    return entry_a && entry_a->holders.size() == 2;
  })) << "this server was not announced for the blob it holds";
  EXPECT_EQ(entry_a->holders, (std::vector<std::string>{kPeer, kSelf}));
  EXPECT_EQ(entry_a->size, held.size());  // the store's size
  ASSERT_TRUE(entry_b && entry_c);
  EXPECT_EQ(entry_b->holders, std::vector<std::string>{kPeer});  // not held: not announced
  EXPECT_EQ(entry_c->holders, std::vector<std::string>{kStranger});
  room->leave(99);
  (*sync)->rooms().release(room);
  room.reset();

  (*sync)->stop();
  (*mesh)->stop();
  mesh->reset();
  sync->reset();
}

}  // namespace
}  // namespace blobsync::mesh
