#include "sync/room_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <functional>
#include <vector>
#include <mutex>
#include <algorithm>
#include <numeric>
#include <filesystem>
#include <future>
#include <thread>

namespace blobsync::sync {
namespace {

struct Counter : DurabilityListener {
  std::atomic<std::uint64_t> seq{0};
  std::atomic<int> calls{0}, failures{0};
  void on_durable(std::uint64_t s, const Result<>& r) override {
    seq = s;
    ++calls;
    if (!r) ++failures;
  }
};

std::filesystem::path fresh_dir(const char* tag) {
  auto dir = std::filesystem::temp_directory_path() / (std::string("room_store_test_") + tag + "_" +
                                                       std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

StoredRoom load(RoomStore& s, const std::string& name) {
  std::promise<Result<StoredRoom>> p;
  s.load(name, [&](Result<StoredRoom> r) { p.set_value(std::move(r)); });
  auto r = p.get_future().get();
  EXPECT_TRUE(r) << r.error().to_string();
  return r ? std::move(*r) : StoredRoom{};
}

TEST(RoomStore, AppendCompactReload) {
  auto dir = fresh_dir("basic");
  Digest d{};
  d.bytes[3] = 9;
  {
    auto store = RoomStore::open(dir / "meta.db", false);
    ASSERT_TRUE(store) << store.error().to_string();
    auto room = load(**store, "r");
    EXPECT_TRUE(room.log.empty());
    EXPECT_EQ(room.id, 0);  // never stored
    room.id = (*store)->create("r");
    auto listener = std::make_shared<Counter>();
    for (std::uint64_t i = 1; i <= 100; ++i) (*store)->append(room.id, i, crdt::Bytes{1, 2, static_cast<std::uint8_t>(i)}, listener);
    (*store)->flush();
    EXPECT_EQ(listener->seq, 100u);
    EXPECT_EQ(listener->failures, 0);
    EXPECT_LT(listener->calls, 100);  // group commit: fewer commits than appends...
    EXPECT_GE(listener->calls, 1);
    (*store)->compact(room.id, 60, crdt::Bytes{7, 7});
    (*store)->record_announce(room.id, AnnouncedBlob{d, 5, 1});
    (*store)->flush();
  }
  auto store = RoomStore::open(dir / "meta.db", false);
  ASSERT_TRUE(store);
  auto room = load(**store, "r");
  EXPECT_EQ(room.snapshot, (crdt::Bytes{7, 7}));
  ASSERT_EQ(room.log.size(), 40u);  // 61..100 kept after the snapshot
  EXPECT_EQ(room.log.front()[2], 61);
  EXPECT_EQ(room.last_seq, 100u);
  ASSERT_EQ(room.announced.size(), 1u);
  EXPECT_EQ(room.announced[0].hash, d);
  EXPECT_EQ((*store)->rooms_with_announcements().value(), std::vector<std::string>{"r"});
  EXPECT_EQ((*store)->rooms_announcing(d).value(), std::vector<std::string>{"r"});
  (*store)->remove_announce(room.id, d);
  (*store)->flush();
  EXPECT_TRUE((*store)->rooms_announcing(d).value().empty());
  // Rooms are separate.
  auto other = load(**store, "other");
  EXPECT_EQ(other.id, 0);
  EXPECT_TRUE(other.log.empty());
  // A new id after a restart does not reuse a stored one.
  EXPECT_GT((*store)->create("other"), room.id);
  std::filesystem::remove_all(dir);
}

// What rooms' loads left in SQLite's page cache goes back once they unload (RoomManager's sweep),
// and the store reads on (from the file) afterwards.
TEST(RoomStore, ReleaseMemoryEmptiesThePageCacheAndTheStoreReadsOn) {
  auto dir = fresh_dir("release");
  auto store = RoomStore::open(dir / "meta.db", false);
  ASSERT_TRUE(store) << store.error().to_string();
  crdt::Bytes delta(3000, 7);  // ~100 rooms x 3 KB: more pages than the 20 SQLite allocates up front
  for (int r = 0; r < 100; ++r) {
    auto id = (*store)->create("room" + std::to_string(r));
    for (std::uint64_t i = 1; i <= 3; ++i) (*store)->append(id, i, delta, nullptr);
  }
  (*store)->flush();
  for (int r = 0; r < 100; ++r) EXPECT_EQ(load(**store, "room" + std::to_string(r)).log.size(), 3u);
  auto cached = [] {
    sqlite3_int64 now = 0, high = 0;
    EXPECT_EQ(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &now, &high, 0), SQLITE_OK);
    return now;
  };
  auto before = cached();
  (*store)->release_memory();
  (*store)->flush();
  auto after = cached();
  EXPECT_LT(after + 200 * 1024, before) << "before " << before << " after " << after;
  auto room = load(**store, "room42");
  ASSERT_EQ(room.log.size(), 3u);
  EXPECT_EQ(room.log[2], delta);
  std::filesystem::remove_all(dir);
}

TEST(RoomStore, LoadingARoomStoresNothingUntilItIsCreated) {
  auto dir = fresh_dir("lazy");
  auto store = RoomStore::open(dir / "meta.db", false);
  ASSERT_TRUE(store);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(load(**store, "empty-" + std::to_string(i)).id, 0);
  EXPECT_TRUE((*store)->room_names().value().empty());
  // create() gives an id usable at once: writes queued after it see the row.
  auto id = (*store)->create("full");
  EXPECT_NE(id, 0);
  auto listener = std::make_shared<Counter>();
  (*store)->append(id, 1, crdt::Bytes{4}, listener);
  (*store)->flush();
  EXPECT_EQ(listener->failures, 0);
  EXPECT_EQ((*store)->room_names().value(), std::vector<std::string>{"full"});
  auto room = load(**store, "full");
  EXPECT_EQ(room.id, id);
  EXPECT_EQ(room.log, std::vector<crdt::Bytes>{crdt::Bytes{4}});
  std::filesystem::remove_all(dir);
}

TEST(RoomStore, AFailedCreateIsReportedToItsListener) {
  auto dir = fresh_dir("create_fails");
  auto store = RoomStore::open(dir / "meta.db", false);
  ASSERT_TRUE(store);
  (*store)->create("r");
  (*store)->flush();
  // A second row of one name (a bug) fails its group; the room hears of it.
  auto listener = std::make_shared<Counter>();
  (*store)->create("r", listener);
  (*store)->flush();
  EXPECT_EQ(listener->failures, 1);
  EXPECT_EQ((*store)->room_names().value(), std::vector<std::string>{"r"});
  std::filesystem::remove_all(dir);
}

TEST(RoomStore, DuplicateSequenceFailsTheBatchAndIsReported) {
  auto dir = fresh_dir("dup");
  auto store = RoomStore::open(dir / "meta.db", false);
  ASSERT_TRUE(store);
  auto room = load(**store, "r");
  room.id = (*store)->create("r");
  auto listener = std::make_shared<Counter>();
  (*store)->append(room.id, 1, crdt::Bytes{1}, listener);
  (*store)->flush();
  (*store)->append(room.id, 1, crdt::Bytes{2}, listener);  // a bug: same seq
  (*store)->flush();
  EXPECT_EQ(listener->failures, 1);
  auto again = load(**store, "r");
  ASSERT_EQ(again.log.size(), 1u);
  EXPECT_EQ(again.log[0], crdt::Bytes{1});
  std::filesystem::remove_all(dir);
}

// Writes that come within kCommitSpacing of the previous group wait and
// commit together: one fsync (and one broadcast) per spacing, not per write.
TEST(RoomStore, WritesWithinTheSpacingShareOneGroup) {
  auto dir = fresh_dir("spacing");
  auto store = RoomStore::open(dir / "meta.db", false);
  ASSERT_TRUE(store);
  auto room = load(**store, "r");
  room.id = (*store)->create("r");
  auto listener = std::make_shared<Counter>();
  std::promise<void> started;
  (*store)->barrier([&](const Result<>&) { started.set_value(); });  // a group began just now
  started.get_future().wait();
  auto before = (*store)->stats().commits;
  // 10 writes over ~1 ms: without the spacing (fsync off: a commit takes
  // tens of microseconds) each would be its own group.
  for (std::uint64_t i = 1; i <= 10; ++i) {
    (*store)->append(room.id, i, crdt::Bytes{static_cast<std::uint8_t>(i)}, listener);
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  std::promise<void> done;
  (*store)->barrier([&](const Result<>&) { done.set_value(); });
  done.get_future().wait();
  auto commits = (*store)->stats().commits - before;
  // A group's callbacks run before its listeners hear of it: a job after it
  // (flush) returns once they have.
  (*store)->flush();
  EXPECT_EQ(listener->seq, 10u);
  EXPECT_LE(commits, 3u);  // 1, or 2-3 on a machine too slow to queue them in time
  std::filesystem::remove_all(dir);
}

// A read (here flush()) does not wait for the spacing, and the writes queued
// before it commit with it.
TEST(RoomStore, ANonWriteEndsTheSpacingWait) {
  auto dir = fresh_dir("spacing_read");
  auto store = RoomStore::open(dir / "meta.db", false);
  ASSERT_TRUE(store);
  auto room = load(**store, "r");
  room.id = (*store)->create("r");
  auto listener = std::make_shared<Counter>();
  int quick = 0;
  for (std::uint64_t i = 1; i <= 10; ++i) {
    std::promise<void> started;
    (*store)->barrier([&](const Result<>&) { started.set_value(); });
    started.get_future().wait();
    auto t0 = std::chrono::steady_clock::now();
    (*store)->append(room.id, i, crdt::Bytes{1}, listener);
    (*store)->flush();
    EXPECT_EQ(listener->seq, i);  // durable when flush() returns
    if (std::chrono::steady_clock::now() - t0 < RoomStore::kCommitSpacing / 2) ++quick;
  }
  EXPECT_GE(quick, 5);  // waiting for the spacing would make every one slow
  std::filesystem::remove_all(dir);
}

// With a poster, a commit group's listeners are told in closures handed to it,
// each running at most about kTellBudget before it posts the rest (fairness
// for the rooms' threads); every listener hears of its commit once.
TEST(RoomStore, AGroupsListenersAreToldInBoundedClosures) {
  auto dir = fresh_dir("poster");
  auto store = RoomStore::open(dir / "meta.db", false);
  ASSERT_TRUE(store) << store.error().to_string();
  std::mutex mu;
  std::vector<std::function<void()>> posted;
  (*store)->set_listener_poster([&](std::function<void()> fn) {
    std::lock_guard lock(mu);
    posted.push_back(std::move(fn));
  });
  struct Slow : DurabilityListener {
    std::vector<int>* order;
    int id;
    std::uint64_t seq = 0;
    void on_durable(std::uint64_t s, const Result<>& r) override {
      EXPECT_TRUE(r);
      seq = s;
      order->push_back(id);
      std::this_thread::sleep_for(RoomStore::kTellBudget / 4);
    }
  };
  std::vector<int> order;
  std::vector<std::shared_ptr<Slow>> rooms;
  (*store)->flush();
  for (int i = 0; i < 12; ++i) {
    auto l = std::make_shared<Slow>();
    l->order = &order;
    l->id = i;
    rooms.push_back(l);
    auto id = (*store)->create("r" + std::to_string(i));
    (*store)->append(id, 1, crdt::Bytes{1}, l);
  }
  (*store)->flush();
  // Run the closures as an io_context would, including those they post.
  std::size_t ran = 0, most = 0;
  for (;;) {
    std::function<void()> fn;
    {
      std::lock_guard lock(mu);
      if (ran == posted.size()) break;
      fn = std::move(posted[ran++]);
    }
    std::size_t before = order.size();
    fn();
    most = std::max(most, order.size() - before);
  }
  for (auto& l : rooms) EXPECT_EQ(l->seq, 1u);
  // Each listener once; 12 of kTellBudget/4 each take several closures, none
  // telling more than the budget allows (4, and the one that crossed it).
  std::sort(order.begin(), order.end());
  std::vector<int> all(12);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(order, all);
  EXPECT_GT(ran, 2u);
  EXPECT_LE(most, 5u);
  (*store)->set_listener_poster({});
  store->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace blobsync::sync
