// SqliteMetadata semantics: rows, temporary/permanent, concurrent and grouped
// inserts, a database shared with other components.
#include "store/sqlite_metadata.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "core/chunking.h"
#include "test_util.h"

namespace blobsync {
namespace {

using testing::make_record;
using testing::random_bytes;
using testing::sha;
using testing::TempDir;

TEST(SqliteMetadata, InsertGetListStatsDelete) {
  TempDir tmp;
  auto meta = SqliteMetadata::open(tmp.path() / "meta.db");
  ASSERT_TRUE(meta) << meta.error().to_string();
  auto a = make_record(600'000, 1);
  auto b = make_record(0, 2);
  EXPECT_TRUE(*(*meta)->insert_blob(a));
  EXPECT_FALSE(*(*meta)->insert_blob(a));
  EXPECT_TRUE(*(*meta)->insert_blob(b));
  auto got = (*meta)->get_blob(a.hash);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->chunk_hashes, a.chunk_hashes);
  EXPECT_EQ((*got)->size, a.size);
  EXPECT_EQ((*got)->created_at_ms, 1000);
  auto stats = (*meta)->stats();
  EXPECT_EQ(stats->blob_count, 2u);
  EXPECT_EQ(stats->total_bytes, 600'000u);
  auto list = (*meta)->list_blobs(std::nullopt, 10);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_LT((*list)[0].hash, (*list)[1].hash);
  ASSERT_TRUE((*meta)->delete_blob(a.hash));
  ASSERT_TRUE((*meta)->delete_blob(a.hash));  // missing is fine
  EXPECT_FALSE(*(*meta)->get_blob(a.hash));
  EXPECT_EQ((*meta)->set_state(a.hash, BlobState::kTemporary).error().code, Errc::kNotFound);
}

TEST(SqliteMetadata, TemporaryRefreshAndPromotion) {
  TempDir tmp;
  auto meta = SqliteMetadata::open(tmp.path() / "meta.db");
  ASSERT_TRUE(meta);
  auto t = make_record(10, 3, BlobState::kTemporary);
  ASSERT_TRUE((*meta)->insert_blob(t));
  t.created_at_ms = 5000;
  EXPECT_FALSE(*(*meta)->insert_blob(t));
  EXPECT_EQ((**(*meta)->get_blob(t.hash)).created_at_ms, 5000);
  t.state = BlobState::kPermanent;
  EXPECT_FALSE(*(*meta)->insert_blob(t));
  EXPECT_EQ((**(*meta)->get_blob(t.hash)).state, BlobState::kPermanent);
  t.state = BlobState::kTemporary;
  EXPECT_FALSE(*(*meta)->insert_blob(t));
  EXPECT_EQ((**(*meta)->get_blob(t.hash)).state, BlobState::kPermanent);
}

TEST(SqliteMetadata, ManyThreadsReadAndWrite) {
  TempDir tmp;
  auto meta = SqliteMetadata::open(tmp.path() / "meta.db");
  ASSERT_TRUE(meta);
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        auto r = make_record(100, static_cast<std::uint64_t>(t * 1000 + i));
        if (!(*meta)->insert_blob(r)) ++errors;
        auto g = (*meta)->get_blob(r.hash);
        if (!g || !*g) ++errors;
        if (!(*meta)->list_blobs(std::nullopt, 5)) ++errors;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ((*meta)->stats()->blob_count, 180u);
}

// insert_blob commits concurrent calls as a group: every caller still learns
// whether its own call created the row (exactly one per hash), and the
// temporary/permanent rule holds inside a group.
TEST(SqliteMetadata, GroupedInsertsReportEachCallersOwnResult) {
  TempDir tmp;
  auto meta = SqliteMetadata::open(tmp.path() / "meta.db");
  ASSERT_TRUE(meta);
  constexpr int kThreads = 12, kShared = 20, kOwn = 10;
  std::vector<BlobRecord> shared;
  for (int i = 0; i < kShared; ++i) shared.push_back(make_record(100 + i, 9000 + i, BlobState::kTemporary));
  std::vector<std::atomic<int>> firsts(kShared);
  std::atomic<int> errors{0}, own_firsts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kShared; ++k) {
        int i = (k + t * 7) % kShared;  // each thread in its own order
        BlobRecord r = shared[i];
        if (t % 2) r.state = BlobState::kPermanent;
        auto got = (*meta)->insert_blob(r);
        if (!got) ++errors;
        else if (*got) ++firsts[i];
        if (k < kOwn) {
          auto own = (*meta)->insert_blob(make_record(50, static_cast<std::uint64_t>(t * 100 + k)));
          if (!own) ++errors;
          else if (*own) ++own_firsts;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  for (int i = 0; i < kShared; ++i) {
    EXPECT_EQ(firsts[i].load(), 1) << "shared blob " << i;
    auto row = (*meta)->get_blob(shared[i].hash);
    ASSERT_TRUE(row && *row);
    EXPECT_EQ((*row)->state, BlobState::kPermanent) << "a permanent insert promotes, whatever the order";
  }
  EXPECT_EQ(own_firsts.load(), kThreads * kOwn);
  EXPECT_EQ((*meta)->stats()->blob_count, static_cast<std::uint64_t>(kShared + kThreads * kOwn));
}

TEST(SqliteMetadata, OtherComponentsShareTheDatabase) {
  TempDir tmp;
  auto meta = SqliteMetadata::open(tmp.path() / "meta.db");
  ASSERT_TRUE(meta);
  ASSERT_TRUE((*meta)->db().migrate("http", {"CREATE TABLE refs(blob BLOB REFERENCES blobs(hash), who TEXT)"}));
  EXPECT_EQ(*(*meta)->db().schema_version("blobs"), 6);  // 6: pending notes
  EXPECT_EQ(*(*meta)->db().schema_version("http"), 1);
}

}  // namespace
}  // namespace blobsync
