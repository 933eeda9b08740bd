// Room (room.h) driven for real: RoomManager + RoomStore (SQLite in a
// temporary directory) + BlobStore + BlobLifecycle, on an io_context run by
// the test thread, with fake connections that record what they are sent.
#include "sync/room.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>

#include "../store/test_util.h"
#include "core/blob_id.h"
#include "crdt/array.h"
#include "crdt/doc.h"
#include "crdt/map.h"
#include "crdt/text.h"
#include "protocol/registry.h"
#include "sql/sqlite_db.h"
#include "sync/room_holds.h"
#include "sync/room_manager.h"
#include "sync/room_store.h"
#include "sync_test_util.h"

namespace blobsync::sync {
namespace {

using namespace std::chrono_literals;
using testing::SuiteStore;
using testing::AwarenessEntry;
using testing::ClientDoc;
using testing::FakeConnection;
using testing::parse_awareness;
using testing::parse_sync;
using testing::sync_msg;

constexpr char kSelf[] = "ws://self.test/sync";

std::vector<std::uint8_t> push_text(ClientDoc& c, const std::string& value) {
  return c.edit([&](crdt::Doc& d) {
    d.transact([&](crdt::Transaction&) { d.get_array("a").push({crdt::Prelim(crdt::Any(value))}); });
  });
}

// Messages of one kind: sync sub type, or -1 for awareness, -2 for auth.
std::size_t count_kind(const std::vector<std::vector<std::uint8_t>>& msgs, int kind) {
  std::size_t n = 0;
  for (const auto& m : msgs) {
    if (m.empty()) continue;
    if (kind == -1) n += m[0] == 1;
    else if (kind == -2) n += m[0] == 2;
    else if (auto p = parse_sync(m)) n += p->sub == static_cast<std::uint64_t>(kind);
  }
  return n;
}

// The stores are shared by the suite's tests (each uses its own room names
// and blobs); each test has its own RoomManager and io_context.
class RoomTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_ = SuiteStore::open();
    ASSERT_TRUE(suite_);
    auto store = RoomStore::open(suite_->dir.path() / "meta.db", false);
    ASSERT_TRUE(store) << store.error().to_string();
    store_ = store->release();
  }
  static void TearDownTestSuite() {
    delete store_;
    store_ = nullptr;
    suite_.reset();
  }

  void SetUp() override {
    ASSERT_TRUE(store_ && suite_);
    config_.url = kSelf;
    config_.data_dir = suite_->dir.path();
    config_.reconcile_delay = 1h;  // no registry reconcile during a test unless it asks
    manager_ = std::make_unique<RoomManager>(config_, *store_, *suite_->shared.store, suite_->lifecycle.get());
    manager_->set_io_context(ioc_);
  }

  void TearDown() override {
    if (manager_) {
      bool stopped = false;
      manager_->stop(false, [&] { stopped = true; });
      EXPECT_TRUE(run([&] { return stopped; }));
      store_->flush();
    }
    manager_.reset();
  }

  bool run(const std::function<bool()>& pred, std::chrono::milliseconds limit = 5s) {
    return testing::run_until(ioc_, pred, limit);
  }

  // Joins a fresh fake connection; waits for ready(true).
  std::shared_ptr<FakeConnection> join(Room& room, ConnId id) {
    auto conn = std::make_shared<FakeConnection>(id);
    std::optional<bool> ready;
    room.join(conn, [&](bool ok) { ready = ok; });
    EXPECT_TRUE(run([&] { return ready.has_value(); }));
    EXPECT_TRUE(ready.value_or(false));
    return conn;
  }

  // Sends a message and waits until the room processed it.
  void send(Room& room, ConnId id, std::vector<std::uint8_t> msg, bool read_only = false) {
    bool done = false;
    room.message(id, read_only, std::move(msg), [&] { done = true; });
    ASSERT_TRUE(run([&] { return done; }));
  }

  RoomStats stats(Room& room) {
    std::optional<RoomStats> s;
    room.stats([&](RoomStats r) { s = r; });
    EXPECT_TRUE(run([&] { return s.has_value(); }));
    return s.value_or(RoomStats{});
  }

  // Announces `blob` in / withdraws `h` from `room`; true once that
  // succeeded (the callback runs on the store thread).
  bool announce(Room& room, const AnnouncedBlob& blob) {
    return succeeds([&](auto done) { room.announce(blob, std::move(done)); });
  }
  bool withdraw(Room& room, const Digest& h) {
    return succeeds([&](auto done) { room.withdraw(h, std::move(done)); });
  }
  bool succeeds(const std::function<void(std::function<void(Result<>)>)>& start) {
    auto state = std::make_shared<std::atomic<int>>(0);
    start([state](Result<> r) { *state = r ? 1 : 2; });
    return run([&] { return state->load() != 0; }) && state->load() == 1;
  }

  std::vector<std::string> holds_of(const Digest& h) { return suite_->holds_of(h); }

  // Holds the store's writer (the next appends cannot commit) until `gate` is
  // set; true once it is held.
  bool hold_writer(std::promise<void>& gate) {
    auto gate_future = gate.get_future().share();
    auto blocked = std::make_shared<std::atomic<bool>>(false);
    store_->run_between([gate_future, blocked]() -> Result<> {
      *blocked = true;
      gate_future.wait();
      return {};
    });
    return run([&] { return blocked->load(); });
  }

  static inline std::unique_ptr<SuiteStore> suite_;
  static inline RoomStore* store_ = nullptr;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ = boost::asio::make_work_guard(ioc_);
  SyncConfig config_;
  std::unique_ptr<RoomManager> manager_;
};

TEST_F(RoomTest, JoinGreetsWithStateVectorThenAwareness) {
  auto room = manager_->acquire("greet");
  ASSERT_TRUE(room);
  auto a = join(*room, 1);
  auto got = a->messages();
  ASSERT_EQ(got.size(), 1u);  // no awareness states yet: the greeting only
  auto p = parse_sync(got[0]);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->sub, 0u);
  EXPECT_EQ(p->payload, crdt::Bytes{0});  // the empty document's state vector

  send(*room, 1, testing::awareness_msg(42, 1, R"({"user":"a"})"));
  ClientDoc client(7);
  send(*room, 1, push_text(client, "x"));
  ASSERT_TRUE(run([&] { return count_kind(a->messages(), 2) == 1; }));

  auto b = join(*room, 2);
  got = b->messages();
  ASSERT_EQ(got.size(), 2u);
  auto sv = parse_sync(got[0]);
  ASSERT_TRUE(sv);
  EXPECT_EQ(sv->sub, 0u);
  EXPECT_EQ(sv->payload, client.doc().encode_state_vector());  // the room has the client's edit
  auto aw = parse_awareness(got[1]);
  ASSERT_TRUE(aw);
  ASSERT_EQ(aw->size(), 1u);
  EXPECT_EQ((*aw)[0].client, 42u);
  EXPECT_EQ((*aw)[0].json, R"({"user":"a"})");
  manager_->release(room);
}

TEST_F(RoomTest, UpdateIsBroadcastToAllOnlyOnceDurable) {
  auto room = manager_->acquire("durable");
  ASSERT_TRUE(room);
  auto a = join(*room, 1);
  auto b = join(*room, 2);
  auto before_a = a->count(), before_b = b->count();

  // Hold the store's writer: the update's append cannot commit meanwhile.
  std::promise<void> gate;
  ASSERT_TRUE(hold_writer(gate));

  ClientDoc client(7);
  send(*room, 1, push_text(client, "x"));
  // An awareness update is not held back by the pending update.
  send(*room, 2, testing::awareness_msg(9, 1, R"({"c":1})"));
  testing::run_ready(ioc_);
  auto s = stats(*room);
  EXPECT_EQ(s.applied_seq, 1u);
  EXPECT_EQ(s.durable_seq, 0u);
  EXPECT_EQ(count_kind(a->messages(), 2), 0u) << "the update was revealed before it was durable";
  EXPECT_EQ(count_kind(b->messages(), 2), 0u);
  EXPECT_EQ(count_kind(a->messages(), -1), 1u);
  EXPECT_EQ(count_kind(b->messages(), -1), 1u);
  // A step 1 now is answered only after the update is durable too (its step 2 reveals it).
  send(*room, 2, sync_msg(0, crdt::Bytes{0}));
  EXPECT_EQ(count_kind(b->messages(), 1), 0u);

  gate.set_value();
  ASSERT_TRUE(run([&] { return count_kind(a->messages(), 2) == 1 && count_kind(b->messages(), 2) == 1; }));
  ASSERT_TRUE(run([&] { return count_kind(b->messages(), 1) == 1; }));
  s = stats(*room);
  EXPECT_EQ(s.durable_seq, 1u);

  // Both got the same delta, sender included, and it carries the edit.
  auto msgs_a = a->messages();
  std::vector<std::vector<std::uint8_t>> tail(msgs_a.begin() + static_cast<std::ptrdiff_t>(before_a), msgs_a.end());
  ClientDoc other(8);
  EXPECT_EQ(other.apply(tail), 1u);
  EXPECT_EQ(other.doc().get_array("a").to_json(), R"(["x"])");
  // b: awareness first (not held), then the update, then the step 2, in order.
  auto msgs_b = b->messages();
  ASSERT_EQ(msgs_b.size(), before_b + 3);
  EXPECT_EQ(msgs_b[before_b][0], 1);
  EXPECT_EQ(parse_sync(msgs_b[before_b + 1])->sub, 2u);
  EXPECT_EQ(parse_sync(msgs_b[before_b + 2])->sub, 1u);

  // And it is in the store.
  std::promise<Result<StoredRoom>> loaded;
  store_->load("durable", [&](Result<StoredRoom> r) { loaded.set_value(std::move(r)); });
  auto stored = loaded.get_future().get();
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->last_seq, 1u);
  EXPECT_EQ(stored->log.size(), 1u);
  manager_->release(room);
}

TEST_F(RoomTest, ReadOnlyUpdatesAreDroppedButReadsAnswered) {
  auto room = manager_->acquire("ro");
  ASSERT_TRUE(room);
  auto a = join(*room, 1);
  auto b = join(*room, 2);
  ClientDoc client(7);
  send(*room, 1, push_text(client, "x"), /*read_only=*/true);
  send(*room, 1, sync_msg(1, client.doc().encode_state_as_update()), /*read_only=*/true);
  auto s = stats(*room);
  EXPECT_EQ(s.applied_seq, 0u);
  EXPECT_EQ(count_kind(a->messages(), 2), 0u);
  EXPECT_EQ(count_kind(b->messages(), 2), 0u);
  EXPECT_EQ(count_kind(a->messages(), -2), 0u);  // dropped silently, not an error
  // Reading is allowed.
  send(*room, 1, sync_msg(0, crdt::Bytes{0}), true);
  ASSERT_TRUE(run([&] { return count_kind(a->messages(), 1) == 1; }));
  // The same update read-write is applied.
  send(*room, 2, sync_msg(2, client.doc().encode_state_as_update()));
  ASSERT_TRUE(run([&] { return count_kind(a->messages(), 2) == 1; }));
  EXPECT_EQ(stats(*room).applied_seq, 1u);
  manager_->release(room);
}

TEST_F(RoomTest, ProtocolErrorAnswersTheSenderOnly) {
  auto room = manager_->acquire("errors");
  ASSERT_TRUE(room);
  auto a = join(*room, 1);
  auto b = join(*room, 2);
  auto before_b = b->count();
  send(*room, 1, {0, 2, 5, 1});  // a truncated update
  send(*room, 1, {9, 9});        // an unknown message type
  auto msgs = a->messages();
  ASSERT_EQ(count_kind(msgs, -2), 2u);
  crdt::Decoder d(msgs.back());
  EXPECT_EQ(d.read_var_uint(), 2u);
  EXPECT_EQ(d.read_var_uint(), 0u);
  EXPECT_TRUE(d.read_var_string().starts_with("blobsync protocol error: "));
  EXPECT_EQ(b->count(), before_b);
  EXPECT_TRUE(a->closes().empty());
  EXPECT_EQ(stats(*room).applied_seq, 0u);
  // The room still works, for the same connection too.
  ClientDoc client(7);
  send(*room, 1, push_text(client, "ok"));
  ASSERT_TRUE(run([&] { return count_kind(b->messages(), 2) == 1 && count_kind(a->messages(), 2) == 1; }));
  EXPECT_EQ(stats(*room).connections, 2u);
  manager_->release(room);
}

TEST_F(RoomTest, AwarenessIsRelayedAndRemovedWhenItsConnectionLeaves) {
  auto room = manager_->acquire("aware");
  ASSERT_TRUE(room);
  auto a = join(*room, 1);
  auto b = join(*room, 2);
  send(*room, 1, testing::awareness_msg(42, 3, R"({"cursor":5})"));
  auto relayed = parse_awareness(b->messages().back());
  ASSERT_TRUE(relayed);
  ASSERT_EQ(relayed->size(), 1u);
  EXPECT_EQ((*relayed)[0].client, 42u);
  EXPECT_EQ((*relayed)[0].clock, 3u);
  EXPECT_EQ(stats(*room).awareness_states, 1u);
  // [3]: query awareness, answered to the asker only.
  auto before_a = a->count();
  send(*room, 2, {3});
  EXPECT_EQ(a->count(), before_a);
  ASSERT_TRUE(parse_awareness(b->messages().back()));

  auto before_b = b->count();
  room->leave(1);
  ASSERT_TRUE(run([&] { return b->count() == before_b + 1; }));
  auto removal = parse_awareness(b->messages().back());
  ASSERT_TRUE(removal);
  ASSERT_EQ(removal->size(), 1u);
  EXPECT_EQ((*removal)[0].client, 42u);
  EXPECT_EQ((*removal)[0].json, "null");
  EXPECT_GT((*removal)[0].clock, 3u);  // bumped, so peers accept the removal
  auto s = stats(*room);
  EXPECT_EQ(s.awareness_states, 0u);
  EXPECT_EQ(s.connections, 1u);
  // A message from the connection that left is ignored.
  ClientDoc client(7);
  send(*room, 1, push_text(client, "late"));
  EXPECT_EQ(stats(*room).applied_seq, 0u);
  manager_->release(room);
}

TEST_F(RoomTest, ParksAfterTheLastLeaveAndUnparksWithItsState) {
  auto room = manager_->acquire("park");
  ASSERT_TRUE(room);
  auto a = join(*room, 1);
  ClientDoc client(7);
  send(*room, 1, push_text(client, "kept"));
  ASSERT_TRUE(run([&] { return count_kind(a->messages(), 2) == 1; }));
  // Pinned by the acquire: the room does not park while someone holds it.
  room->leave(1);
  testing::run_ready(ioc_);
  EXPECT_EQ(manager_->parked(), 0u);
  auto again = join(*room, 2);
  manager_->release(room);
  room.reset();
  again.reset();
  manager_->with_room("park", [](Room& r, std::function<void()> release) {
    r.leave(2);
    release();
  });
  ASSERT_TRUE(run([&] { return manager_->parked() == 1; }));
  EXPECT_EQ(manager_->parks(), 1u);
  EXPECT_EQ(manager_->loaded(), 1u);
  EXPECT_TRUE(manager_->rooms().empty());
  EXPECT_EQ(manager_->names(), std::vector<std::string>{"park"});

  // The next acquire un-parks it, with its document.
  auto back = manager_->acquire("park");
  ASSERT_TRUE(back);
  EXPECT_EQ(manager_->unparks(), 1u);
  EXPECT_EQ(manager_->parked(), 0u);
  auto c = join(*back, 3);
  auto greet = parse_sync(c->messages().at(0));
  ASSERT_TRUE(greet);
  EXPECT_EQ(greet->payload, client.doc().encode_state_vector());
  send(*back, 3, sync_msg(0, crdt::Bytes{0}));
  ASSERT_TRUE(run([&] { return count_kind(c->messages(), 1) == 1; }));
  ClientDoc reader(9);
  reader.apply(c->messages());
  EXPECT_EQ(reader.doc().get_array("a").to_json(), R"(["kept"])");
  auto s = stats(*back);
  EXPECT_EQ(s.applied_seq, 1u);  // sequence numbers continue from the parked state
  EXPECT_EQ(s.durable_seq, 1u);
  manager_->release(back);
}

TEST_F(RoomTest, ParkedRoomsLeaveMemoryAfterTheIdleTimeoutWithNoOtherActivity) {
  config_.room_idle_timeout = 300ms;
  manager_ = std::make_unique<RoomManager>(config_, *store_, *suite_->shared.store, suite_->lifecycle.get());
  manager_->set_io_context(ioc_);
  for (const char* name : {"sweep-a", "sweep-b", "sweep-c"}) {
    auto room = manager_->acquire(name);
    ASSERT_TRUE(room);
    auto conn = join(*room, 1);
    ClientDoc client(11);
    send(*room, 1, push_text(client, name));
    ASSERT_TRUE(run([&] { return count_kind(conn->messages(), 2) == 1; }));
    manager_->release(room);
    room->leave(1);
  }
  ASSERT_TRUE(run([&] { return manager_->parked() == 3; }));
  // No acquire or park comes after: the sweep timer alone forgets them.
  auto parked_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(run([&] { return manager_->loaded() == 0; }, 3s));
  EXPECT_GE(std::chrono::steady_clock::now() - parked_at, 250ms);  // not before the timeout
  // Forgotten rooms live on in the store: a join loads the state back.
  auto back = manager_->acquire("sweep-b");
  ASSERT_TRUE(back);
  auto c = join(*back, 2);
  auto greet = parse_sync(c->messages().at(0));
  ASSERT_TRUE(greet);
  EXPECT_NE(greet->payload, crdt::Bytes{0});  // a non-empty state vector
  manager_->release(back);
}

TEST_F(RoomTest, AnEmptyRoomIsNeitherStoredNorKept) {
  auto room = manager_->acquire("empty");
  ASSERT_TRUE(room);
  auto a = join(*room, 1);
  manager_->release(room);
  room->leave(1);
  room.reset();
  ASSERT_TRUE(run([&] { return manager_->loaded() == 0; }));
  EXPECT_EQ(manager_->parks(), 0u);
  auto names = store_->room_names().value();  // the suite's store: other tests' rooms are there
  EXPECT_EQ(std::count(names.begin(), names.end(), "empty"), 0);
}

TEST_F(RoomTest, NewRoomsPerAddressAndRoomsInMemoryAreLimited) {
  config_.max_new_rooms_per_address = 2;
  config_.max_rooms = 3;
  manager_ = std::make_unique<RoomManager>(config_, *store_, *suite_->shared.store, suite_->lifecycle.get());
  manager_->set_io_context(ioc_);
  RoomManager::Refusal why;
  std::vector<std::shared_ptr<Room>> held;
  auto get = [&](const char* name, const std::string& address) {
    auto r = manager_->acquire(name, address, &why);
    if (r) held.push_back(r);
    return r != nullptr;
  };
  EXPECT_TRUE(get("a", "10.0.0.1"));
  EXPECT_TRUE(get("b", "10.0.0.1"));
  EXPECT_FALSE(get("c", "10.0.0.1"));
  EXPECT_EQ(why.code, 1013);
  EXPECT_TRUE(why.reason.starts_with("too many new rooms from this address")) << why.reason;
  EXPECT_TRUE(get("a", "10.0.0.1"));  // in memory already: not a new room
  EXPECT_TRUE(get("c", "10.0.0.2"));  // another address has its own budget...
  EXPECT_FALSE(get("d", "10.0.0.2"));  // ...but 3 rooms are in memory, all held
  EXPECT_EQ(why.code, 1013);
  EXPECT_EQ(why.reason, "too many rooms open on this server; try again later");
  auto own = manager_->acquire("d");  // the server's own acquire is exempt
  EXPECT_TRUE(own);
  manager_->release(own);
  for (auto& r : held) manager_->release(r);
  held.clear();
  testing::run_ready(ioc_);
}

TEST_F(RoomTest, ARoomThatAnnouncedUnloadsAfterTheIdleTimeout) {
  config_.room_idle_timeout = 200ms;  // ticks every 100 ms
  auto room = manager_->acquire("idle");
  ASSERT_TRUE(room);
  auto h = Sha256::of("idle blob", 9);
  ASSERT_TRUE(announce(*room, AnnouncedBlob{h, 9, 1}));
  auto a = join(*room, 1);
  manager_->release(room);
  room->leave(1);
  // It announced a blob, so it cannot park; it unloads once idle long enough.
  ASSERT_TRUE(run([&] { return manager_->loaded() == 0; }, 3s));
  EXPECT_EQ(manager_->parks(), 0u);
  // Its log was folded into a snapshot before it went.
  std::promise<Result<StoredRoom>> loaded;
  store_->load("idle", [&](Result<StoredRoom> r) { loaded.set_value(std::move(r)); });
  auto stored = loaded.get_future().get();
  ASSERT_TRUE(stored);
  EXPECT_TRUE(stored->log.empty());
  EXPECT_FALSE(stored->snapshot.empty());
  ASSERT_EQ(stored->announced.size(), 1u);
  EXPECT_EQ(stored->announced[0].hash, h);
}

TEST_F(RoomTest, AnnounceAndWithdrawEditTheRegistryAsThisServer) {
  auto room = manager_->acquire("reg");
  ASSERT_TRUE(room);
  auto a = join(*room, 1);
  ClientDoc client(7);
  client.apply(a->messages());
  auto h = Sha256::of("announced", 9);

  ASSERT_TRUE(announce(*room, AnnouncedBlob{h, 9, 1}));
  ASSERT_TRUE(run([&] { return count_kind(a->messages(), 2) == 1; }));
  client.apply(a->messages());
  auto entry = protocol::registry_get(client.doc(), h);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->holders, std::vector<std::string>{kSelf});
  EXPECT_EQ(entry->size, 9u);
  EXPECT_EQ(entry->chunk_count, 1u);
  EXPECT_EQ(store_->rooms_announcing(h).value(), std::vector<std::string>{"reg"});
  // The entry holds the blob on this server (before it is even stored).
  EXPECT_EQ(holds_of(h), std::vector<std::string>{room_holder("reg", kSelf)});

  // Another holder, added by a client, is kept by the withdrawal.
  send(*room, 1, client.edit([&](crdt::Doc& d) { protocol::registry_announce(d, h, 9, 1, "ws://other/sync"); }));
  ASSERT_TRUE(run([&] { return count_kind(a->messages(), 2) == 2; }));
  ASSERT_TRUE(withdraw(*room, h));
  ASSERT_TRUE(run([&] { return count_kind(a->messages(), 2) == 3; }));
  ClientDoc fresh(8);
  fresh.apply(a->messages());
  entry = protocol::registry_get(fresh.doc(), h);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->holders, std::vector<std::string>{"ws://other/sync"});
  EXPECT_TRUE(store_->rooms_announcing(h).value().empty());

  // The last holder withdrawing leaves the key, with no holders: only apps delete keys.
  send(*room, 1, fresh.edit([&](crdt::Doc& d) { protocol::registry_withdraw(d, h, "ws://other/sync"); }));
  ASSERT_TRUE(run([&] { return count_kind(a->messages(), 2) == 4; }));
  ASSERT_TRUE(announce(*room, AnnouncedBlob{h, 9, 1}));
  ASSERT_TRUE(withdraw(*room, h));
  ASSERT_TRUE(run([&] { return count_kind(a->messages(), 2) == 6; }));
  ClientDoc final_view(9);
  final_view.apply(a->messages());
  EXPECT_TRUE(protocol::registry_has_key(final_view.doc(), h));
  entry = protocol::registry_get(final_view.doc(), h);
  ASSERT_TRUE(entry);
  EXPECT_TRUE(entry->holders.empty());
  // A key with no holders still holds the blob.
  store_->flush();
  EXPECT_EQ(holds_of(h), std::vector<std::string>{room_holder("reg", kSelf)});
  manager_->release(room);
}

TEST_F(RoomTest, RegistryKeysFromClientsHoldTheirBlobsUntilDeleted) {
  // A stored blob nothing holds: temporary.
  std::string bytes = "a blob some client lists";
  PutOptions po;
  po.state = BlobState::kTemporary;
  auto rec = suite_->shared.store->put_bytes(blobsync::testing::as_bytes(bytes), po);
  ASSERT_TRUE(rec) << rec.error().to_string();
  auto h = rec->hash;
  auto missing = Sha256::of("not here yet", 12);
  ASSERT_EQ(suite_->shared.store->stat(h)->state, BlobState::kTemporary);

  auto room = manager_->acquire("holds");
  ASSERT_TRUE(room);
  auto a = join(*room, 1);
  ClientDoc client(7);
  send(*room, 1, client.edit([&](crdt::Doc& d) {
    d.transact([&](crdt::Transaction&) {
      protocol::registry_announce(d, h, bytes.size(), 1, "ws://peer/sync");
      protocol::registry_announce(d, missing, 12, 1, "ws://peer/sync");
    });
  }));
  // The delta is revealed only once durable, and its holds were written before it.
  ASSERT_TRUE(run([&] { return count_kind(a->messages(), 2) == 1; }));
  const std::string holder = room_holder("holds", kSelf);
  EXPECT_EQ(holder, "room:holds@ws://self.test/sync");
  EXPECT_EQ(holds_of(h), std::vector<std::string>{holder});
  EXPECT_EQ(holds_of(missing), std::vector<std::string>{holder});
  EXPECT_EQ(suite_->shared.store->stat(h)->state, BlobState::kPermanent);

  // A rewrite of the entry (another holder) changes no hold.
  send(*room, 1, client.edit([&](crdt::Doc& d) { protocol::registry_announce(d, h, bytes.size(), 1, "ws://peer2/sync"); }));
  ASSERT_TRUE(run([&] { return count_kind(a->messages(), 2) == 2; }));
  EXPECT_EQ(holds_of(h), std::vector<std::string>{holder});

  // Deleting the key releases the hold, once the deletion is durable.
  std::promise<void> gate;
  ASSERT_TRUE(hold_writer(gate));
  send(*room, 1, client.edit([&](crdt::Doc& d) {
    d.transact([&](crdt::Transaction&) { d.get_map(protocol::kRegistryMap).remove(to_hash_ref(h)); });
  }));
  EXPECT_EQ(holds_of(h), std::vector<std::string>{holder}) << "released before the deletion was durable";
  gate.set_value();
  ASSERT_TRUE(run([&] { return count_kind(a->messages(), 2) == 3; }));
  store_->flush();  // the release runs after the commit
  EXPECT_TRUE(holds_of(h).empty());
  EXPECT_EQ(suite_->shared.store->stat(h)->state, BlobState::kTemporary);
  EXPECT_EQ(holds_of(missing), std::vector<std::string>{holder});  // its key is still there
  manager_->release(room);
}

TEST_F(RoomTest, LoadingARoomMakesItsHoldsMatchItsRegistry) {
  auto h = Sha256::of("listed", 6);
  auto stale = Sha256::of("stale", 5);
  {
    auto room = manager_->acquire("reload");
    ASSERT_TRUE(room);
    auto a = join(*room, 1);
    ClientDoc client(7);
    send(*room, 1, client.edit([&](crdt::Doc& d) { protocol::registry_announce(d, h, 6, 1, "ws://peer/sync"); }));
    ASSERT_TRUE(run([&] { return count_kind(a->messages(), 2) == 1; }));
    manager_->release(room);
    bool stopped = false;
    manager_->stop(false, [&] { stopped = true; });
    ASSERT_TRUE(run([&] { return stopped; }));
    store_->flush();
  }
  // A hold whose entry never became durable (a crash between the two).
  const std::string holder = room_holder("reload", kSelf);
  ASSERT_TRUE(suite_->lifecycle->hold(holder, std::span<const Digest>(&stale, 1)));
  manager_ = std::make_unique<RoomManager>(config_, *store_, *suite_->shared.store, suite_->lifecycle.get());
  manager_->set_io_context(ioc_);
  auto room = manager_->acquire("reload");
  ASSERT_TRUE(room);
  auto a = join(*room, 1);  // loaded by now
  store_->flush();
  EXPECT_EQ(holds_of(h), std::vector<std::string>{holder});
  EXPECT_TRUE(holds_of(stale).empty());
  manager_->release(room);
}

// Issue 18: a stored update that fails or breaks a limit at load is kept
// aside (sync_quarantine), counted, and the room loads and works without it.
TEST_F(RoomTest, StoredUpdatesPastALimitAreQuarantinedAtLoad) {
  std::vector<crdt::Bytes> ups;
  {
    crdt::Doc a(5);
    a.on_update([&](const crdt::Bytes& u, const crdt::Transaction&) { ups.push_back(u); });
    for (uint32_t i = 0; i < 3; ++i) a.get_text("t").insert_utf8(i, "x");
  }
  std::promise<Result<StoredRoom>> p;
  store_->load("quarantine", [&](Result<StoredRoom> r) { p.set_value(std::move(r)); });
  auto stored = p.get_future().get();
  ASSERT_TRUE(stored);
  stored->id = store_->create("quarantine");
  store_->append(stored->id, 1, ups[2], nullptr);        // pending: 1 struct, within the limit
  store_->append(stored->id, 2, ups[1], nullptr);        // pending: 2 structs, past it
  store_->append(stored->id, 3, {0xff, 0xff}, nullptr);  // not an update at all
  store_->flush();
  const auto before = store_->stats().quarantined;

  config_.doc_limits.max_pending_structs = 1;
  manager_ = std::make_unique<RoomManager>(config_, *store_, *suite_->shared.store, suite_->lifecycle.get());
  manager_->set_io_context(ioc_);
  auto room = manager_->acquire("quarantine");
  ASSERT_TRUE(room);
  auto a = join(*room, 1);  // loaded by now: a bad stored update never blocks the room
  store_->flush();
  EXPECT_EQ(store_->stats().quarantined, before + 2);

  auto db = SqliteDb::open(suite_->dir.path() / "meta.db");
  ASSERT_TRUE(db);
  auto st = (*db)->prepare("SELECT seq, reason FROM sync_quarantine WHERE room_id = ? ORDER BY seq");
  ASSERT_TRUE(st);
  st->bind(1, stored->id);
  std::vector<std::pair<std::int64_t, std::string>> rows;
  while (auto row = st->step()) {
    if (!*row) break;
    rows.emplace_back(st->column_int64(0), st->column_text(1));
  }
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].first, 2);
  EXPECT_NE(rows[0].second.find("over the limit"), std::string::npos) << rows[0].second;
  EXPECT_EQ(rows[1].first, 3);

  // The room still takes edits; the missing update, sent again, completes it.
  ClientDoc client(9);
  send(*room, 1, client.edit([&](crdt::Doc& d) { d.get_text("other").insert_utf8(0, "ok"); }));
  send(*room, 1, sync_msg(2, ups[0]));
  send(*room, 1, sync_msg(2, ups[1]));
  ASSERT_TRUE(run([&] { return count_kind(a->messages(), 2) >= 2; }));
  manager_->release(room);
}

}  // namespace
}  // namespace blobsync::sync
