// SqlMetadata on both backends, with several handles on one database
// standing in for several servers (PostgreSQL cases run under
// tests/pg/pg_tmp.sh: pg.store_tests).
#include "store/sql_metadata.h"

#include <gtest/gtest.h>

#include <thread>

#include "../sql/sql_test_util.h"
#include "core/chunking.h"

namespace blobsync {
namespace {

using testing::make_record;
using testing::random_bytes;
using testing::sha;
using testing::SqlBackendTest;

class SqlMetadataTest : public SqlBackendTest {
 protected:
  std::unique_ptr<SqlMetadata> meta(std::shared_ptr<SqlDb> db) {
    auto m = SqlMetadata::open(std::move(db));
    EXPECT_TRUE(m) << m.error().to_string();
    return m ? std::move(*m) : nullptr;
  }
};
BLOBSYNC_BOTH_BACKENDS(SqlMetadataTest);

TEST_P(SqlMetadataTest, InsertGetListStatsDelete) {
  auto m = meta(open());
  ASSERT_TRUE(m);
  std::vector<BlobRecord> recs = {make_record(0, 1), make_record(1000, 2), make_record(600 * 1024, 3)};
  for (const auto& r : recs) EXPECT_TRUE(*m->insert_blob(r));
  EXPECT_FALSE(*m->insert_blob(recs[1]));
  auto got = m->get_blob(recs[2].hash);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->size, recs[2].size);
  EXPECT_EQ((*got)->chunk_hashes, recs[2].chunk_hashes);
  EXPECT_EQ((*got)->created_at_ms, 1000);
  EXPECT_FALSE(*m->get_blob(sha(random_bytes(5, 99))));
  auto all = m->list_blobs(std::nullopt, 10);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 3u);
  EXPECT_TRUE(std::is_sorted(all->begin(), all->end(), [](auto& a, auto& b) { return a.hash < b.hash; }));
  auto page = m->list_blobs((*all)[0].hash, 1);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].hash, (*all)[1].hash);
  auto st = m->stats();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->blob_count, 3u);
  EXPECT_EQ(st->total_bytes, 1000u + 600 * 1024);
  ASSERT_TRUE(m->delete_blob(recs[0].hash));
  ASSERT_TRUE(m->delete_blob(recs[0].hash));  // missing is fine
  EXPECT_EQ(m->stats()->blob_count, 2u);
  auto missing = m->set_state(recs[0].hash, BlobState::kTemporary);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
}

TEST_P(SqlMetadataTest, TemporaryRefreshAndPromotion) {
  auto m = meta(open());
  ASSERT_TRUE(m);
  auto r = make_record(10, 7, BlobState::kTemporary, 1000);
  EXPECT_TRUE(*m->insert_blob(r));
  r.created_at_ms = 5000;
  EXPECT_FALSE(*m->insert_blob(r));
  EXPECT_EQ((*m->get_blob(r.hash))->created_at_ms, 5000);
  r.created_at_ms = 3000;  // never moves back
  EXPECT_FALSE(*m->insert_blob(r));
  EXPECT_EQ((*m->get_blob(r.hash))->created_at_ms, 5000);
  r.state = BlobState::kPermanent;
  EXPECT_FALSE(*m->insert_blob(r));
  EXPECT_EQ((*m->get_blob(r.hash))->state, BlobState::kPermanent);
  r.state = BlobState::kTemporary;  // temporary never demotes permanent
  EXPECT_FALSE(*m->insert_blob(r));
  EXPECT_EQ((*m->get_blob(r.hash))->state, BlobState::kPermanent);
}

TEST_P(SqlMetadataTest, QuarantineIsSetReadCountedAndCleared) {
  auto m = meta(open());
  ASSERT_TRUE(m);
  auto a = make_record(300 * 1024, 11), b = make_record(10, 12);
  ASSERT_TRUE(m->insert_blob(a) && m->insert_blob(b));
  EXPECT_EQ(*m->count_quarantined(), 0u);
  EXPECT_TRUE((*m->get_blob(a.hash))->quarantine.empty());
  ASSERT_TRUE(m->set_quarantine(a.hash, "chunk 1 hash mismatch"));
  EXPECT_EQ((*m->get_blob(a.hash))->quarantine, "chunk 1 hash mismatch");
  auto listed = m->list_blobs(std::nullopt, 10);
  ASSERT_TRUE(listed);
  for (const auto& r : *listed) EXPECT_EQ(r.quarantine, r.hash == a.hash ? "chunk 1 hash mismatch" : "");
  EXPECT_EQ(*m->count_quarantined(), 1u);
  ASSERT_TRUE(m->set_quarantine(a.hash, ""));
  EXPECT_TRUE((*m->get_blob(a.hash))->quarantine.empty());
  EXPECT_EQ(*m->count_quarantined(), 0u);
  EXPECT_EQ(m->set_quarantine(make_record(5, 13).hash, "x").error().code, Errc::kNotFound);
}

TEST_P(SqlMetadataTest, ServersInsertingTheSameBlobAtOnceStoreOneRow) {
  // Two servers x three threads insert the same 20 blobs at once: each blob
  // gets one row and exactly one insert reports "new".
  std::vector<std::unique_ptr<SqlMetadata>> servers;
  servers.push_back(meta(open()));
  servers.push_back(meta(open()));
  ASSERT_TRUE(servers[0] && servers[1]);
  std::vector<BlobRecord> recs;
  for (int i = 0; i < 20; ++i)
    recs.push_back(make_record(100, 100 + static_cast<std::uint64_t>(i), BlobState::kTemporary));
  std::atomic<int> inserted{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      auto& m = *servers[static_cast<std::size_t>(t % 2)];
      for (const auto& r : recs) {
        auto ok = m.insert_blob(r);
        if (!ok) ++errors;
        else if (*ok) ++inserted;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(inserted.load(), 20);
  EXPECT_EQ(servers[1]->stats()->blob_count, 20u);
}

}  // namespace
}  // namespace blobsync
