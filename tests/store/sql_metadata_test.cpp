// SqlMetadata on both backends, with several handles on one database
// standing in for several servers (PostgreSQL cases run under
// tests/pg/pg_tmp.sh: pg.store_tests).
#include "store/sql_metadata.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <cstring>
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

TEST_P(SqlMetadataTest, FirstFilenameSeenWinsAndIsSanitized) {
  auto m = meta(open());
  ASSERT_TRUE(m);
  auto a = make_record(10, 21);
  ASSERT_TRUE(*m->insert_blob(a));  // no name
  EXPECT_EQ((*m->get_blob(a.hash))->filename, "");
  ASSERT_TRUE(m->set_filename(a.hash, "\r\n "));  // nothing left of it: still none
  EXPECT_EQ((*m->get_blob(a.hash))->filename, "");
  ASSERT_TRUE(m->set_filename(a.hash, "../x\r\n.txt"));
  EXPECT_EQ((*m->get_blob(a.hash))->filename, ".._x.txt");
  ASSERT_TRUE(m->set_filename(a.hash, "second.txt"));
  a.filename = "third.txt";
  EXPECT_FALSE(*m->insert_blob(a));
  EXPECT_EQ((*m->get_blob(a.hash))->filename, ".._x.txt");
  // A named insert names the row; a later insert of the same bytes does not rename it.
  auto b = make_record(20, 22);
  b.filename = std::string(1000, 'n');
  ASSERT_TRUE(*m->insert_blob(b));
  EXPECT_EQ((*m->get_blob(b.hash))->filename, std::string(255, 'n'));
  auto c = make_record(30, 23);
  ASSERT_TRUE(*m->insert_blob(c));
  c.filename = "late.bin";
  EXPECT_FALSE(*m->insert_blob(c));
  auto listed = m->list_blobs(std::nullopt, 10);
  ASSERT_TRUE(listed);
  for (const auto& r : *listed)
    if (r.hash == c.hash) {
      EXPECT_EQ(r.filename, "late.bin");
    }
  EXPECT_TRUE(m->set_filename(make_record(5, 24).hash, "nobody.txt"));  // no row: a no-op
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

// What stats() and count_quarantined() would be by scanning `blobs`.
struct Scanned {
  std::uint64_t count = 0, bytes = 0, quarantined = 0;
};
Scanned scan(SqlDb& db) {
  auto r = db.read(
      "SELECT count(*), coalesce(sum(size), 0), "
      "coalesce(sum(CASE WHEN quarantine IS NOT NULL AND quarantine <> '' THEN 1 ELSE 0 END), 0) FROM blobs");
  EXPECT_TRUE(r) << r.error().to_string();
  if (!r || r->empty()) return {};
  return {static_cast<std::uint64_t>(r->int64(0, 0)), static_cast<std::uint64_t>(r->int64(0, 1)),
          static_cast<std::uint64_t>(r->int64(0, 2))};
}

// The running totals equal a scan, as seen from `m`.
void expect_totals(SqlMetadata& m, std::uint64_t count, std::uint64_t bytes, std::uint64_t quarantined) {
  auto st = m.stats();
  ASSERT_TRUE(st) << st.error().to_string();
  EXPECT_EQ(st->blob_count, count);
  EXPECT_EQ(st->total_bytes, bytes);
  EXPECT_EQ(*m.count_quarantined(), quarantined);
  auto s = scan(m.sql());
  EXPECT_EQ(s.count, count);
  EXPECT_EQ(s.bytes, bytes);
  EXPECT_EQ(s.quarantined, quarantined);
}

TEST_P(SqlMetadataTest, TotalsFollowInsertDuplicateDeleteAndQuarantine) {
  // Two handles on one database: what one server writes, the other's
  // stats() shows (the totals live in the database, not in memory).
  auto a = meta(open()), b = meta(open());
  ASSERT_TRUE(a && b);
  auto x = make_record(1000, 21), y = make_record(300 * 1024, 22, BlobState::kTemporary), z = make_record(0, 23);
  expect_totals(*b, 0, 0, 0);
  ASSERT_TRUE(*a->insert_blob(x));
  ASSERT_TRUE(*b->insert_blob(y, "pin:put"));
  ASSERT_TRUE(*a->insert_blob(z));
  expect_totals(*b, 3, 1000 + 300 * 1024, 0);
  // Duplicates (also a temporary refresh and a promotion) add nothing.
  EXPECT_FALSE(*b->insert_blob(x));
  EXPECT_FALSE(*a->insert_blob(y));
  auto y2 = y;
  y2.created_at_ms = 9000;
  EXPECT_FALSE(*b->insert_blob(y2));
  expect_totals(*a, 3, 1000 + 300 * 1024, 0);
  // Quarantine counts once per row, however often it is set; clearing and
  // clearing again count once.
  ASSERT_TRUE(a->set_quarantine(y.hash, "chunk 0 hash mismatch"));
  ASSERT_TRUE(b->set_quarantine(y.hash, "another reason"));
  ASSERT_TRUE(a->set_quarantine(x.hash, "x"));
  expect_totals(*b, 3, 1000 + 300 * 1024, 2);
  ASSERT_TRUE(b->set_quarantine(x.hash, ""));
  ASSERT_TRUE(a->set_quarantine(x.hash, ""));
  expect_totals(*a, 3, 1000 + 300 * 1024, 1);
  EXPECT_EQ(a->set_quarantine(make_record(5, 24).hash, "x").error().code, Errc::kNotFound);
  expect_totals(*a, 3, 1000 + 300 * 1024, 1);
  // Deleting a quarantined row takes it out of both; a missing row changes nothing.
  ASSERT_TRUE(b->delete_blob(y.hash));
  ASSERT_TRUE(a->delete_blob(y.hash));
  expect_totals(*a, 2, 1000, 0);
  ASSERT_TRUE(a->delete_blob(z.hash));
  ASSERT_TRUE(b->delete_blob(x.hash));
  expect_totals(*b, 0, 0, 0);
  // Back again after deletion.
  ASSERT_TRUE(*b->insert_blob(x));
  expect_totals(*a, 1, 1000, 0);
}

TEST_P(SqlMetadataTest, TotalsStayRightUnderConcurrentGroupCommits) {
  // Two servers x three threads insert overlapping blobs (group commits,
  // some rows duplicates), then delete half: totals equal a scan.
  auto a = meta(open()), b = meta(open());
  ASSERT_TRUE(a && b);
  std::vector<BlobRecord> recs;
  std::uint64_t bytes = 0;
  for (int i = 0; i < 40; ++i) {
    recs.push_back(make_record(10 + static_cast<std::size_t>(i), 200 + static_cast<std::uint64_t>(i)));
    bytes += recs.back().size;
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      auto& m = t % 2 ? *b : *a;
      for (std::size_t i = static_cast<std::size_t>(t); i < recs.size() + static_cast<std::size_t>(t); ++i)
        EXPECT_TRUE(m.insert_blob(recs[i % recs.size()]));
    });
  for (auto& th : threads) th.join();
  expect_totals(*a, recs.size(), bytes, 0);
  threads.clear();
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      auto& m = t % 2 ? *b : *a;
      for (std::size_t i = 0; i < recs.size(); i += 2) EXPECT_TRUE(m.delete_blob(recs[i].hash));
    });
  for (auto& th : threads) th.join();
  std::uint64_t left = 0;
  for (std::size_t i = 1; i < recs.size(); i += 2) left += recs[i].size;
  expect_totals(*b, recs.size() / 2, left, 0);
}

TEST_P(SqlMetadataTest, TotalsStartFromTheRowsAnOlderSchemaHeld) {
  // A database at `blobs` version 3 (before the totals) with rows in it:
  // the upgrade counts them once.
  auto db = open();
  auto steps = SqlMetadata::migrations();
  ASSERT_GE(steps.size(), 4u);
  steps.resize(3);
  ASSERT_TRUE(db->migrate("blobs", steps));
  for (int i = 0; i < 5; ++i) {
    auto r = make_record(100 * static_cast<std::size_t>(i), 300 + static_cast<std::uint64_t>(i));
    std::vector<std::uint8_t> chunks(32 * r.chunk_count);
    for (std::size_t c = 0; c < r.chunk_count; ++c) std::memcpy(chunks.data() + 32 * c, r.chunk_hashes[c].bytes.data(), 32);
    ASSERT_TRUE(db->query(
        "INSERT INTO blobs(hash, size, mime_type, chunk_count, chunk_hashes, created_at_ms, quarantine) "
        "VALUES (?, ?, 'x', ?, ?, 1, ?)",
        {SqlBytes{{r.hash.bytes.data(), r.hash.bytes.size()}}, static_cast<std::int64_t>(r.size),
         static_cast<std::int64_t>(r.chunk_count), SqlBytes{chunks}, std::string_view(i == 2 ? "bad" : "")}));
  }
  auto m = meta(db);
  ASSERT_TRUE(m);
  expect_totals(*m, 5, 1000, 1);
}

// A row hook (PutOptions::with_row) commits with its row or not at all, and
// a failing hook fails only its own insert, also when inserts are grouped.
TEST_P(SqlMetadataTest, RowHooksCommitWithTheirRowOrNotAtAll) {
  auto db = open();
  auto m = meta(db);
  ASSERT_TRUE(m);
  ASSERT_TRUE(db->migrate("hook_test", {"CREATE TABLE claim(n ${INT} PRIMARY KEY)"}));
  constexpr int kThreads = 6, kEach = 12;
  std::atomic<int> wrong{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::int64_t n = t * kEach + i;
        bool refuse = n % 4 == 0;
        auto rec = make_record(100, static_cast<std::uint64_t>(1000 + n));
        auto r = m->insert_blob_with(rec, {}, [&](SqlConn& c) -> Result<> {
          if (auto q = c.query("INSERT INTO claim(n) VALUES (?)", {n}); !q) return std::unexpected(q.error());
          if (refuse) return fail(Errc::kConflict, "hook refused");
          return {};
        });
        if (r.has_value() == refuse) ++wrong;
        if (!r && r.error().code != Errc::kConflict) ++wrong;
        auto row = m->get_blob(rec.hash);
        if (!row || row->has_value() == refuse) ++wrong;
      }
    });
  for (auto& th : ts) th.join();
  EXPECT_EQ(wrong.load(), 0);
  auto claims = db->read("SELECT count(*) FROM claim");
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->int64(0, 0), kThreads * kEach * 3 / 4);
  EXPECT_EQ(m->stats()->blob_count, static_cast<std::uint64_t>(kThreads * kEach * 3 / 4));
}

// insert_blob_noted's `meanwhile` (the durable commit's flush): with true,
// on the caller's thread, when the caller commits the group itself; with
// false, on the caller's thread while another caller's group commits, so
// its work overlaps that commit instead of waiting for it.
TEST_P(SqlMetadataTest, MeanwhileRunsOnTheCallerBesideTheGroupThatCommitsIt) {
  auto db = open();
  auto m = meta(db);
  ASSERT_TRUE(m);
  auto first = make_record(100, 2001), second = make_record(100, 2002);
  std::mutex mu;
  std::condition_variable cv;
  bool in_hook = false, release = false, second_meanwhile = false;
  std::optional<bool> first_here, second_here;
  std::thread leader([&] {
    auto r = m->insert_blob_noted(
        first, {},
        [&](SqlConn&) -> Result<> {
          std::unique_lock lk(mu);
          in_hook = true;
          cv.notify_all();
          cv.wait(lk, [&] { return release; });  // the group stays open
          return {};
        },
        11, [&](bool here) { first_here = here; });
    EXPECT_TRUE(r && *r);
  });
  {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return in_hook; });
  }
  const auto caller = std::this_thread::get_id();
  auto r = m->insert_blob_noted(second, {}, {}, 12, [&](bool here) {
    second_here = here;
    EXPECT_EQ(std::this_thread::get_id(), caller);
    std::lock_guard g(mu);
    second_meanwhile = true;  // while the first group is still open
    release = true;
    cv.notify_all();
  });
  leader.join();
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(*r);
  EXPECT_TRUE(second_meanwhile);
  EXPECT_EQ(first_here, std::optional<bool>(true));
  EXPECT_EQ(second_here, std::optional<bool>(false));
  EXPECT_TRUE(m->get_blob(second.hash)->has_value());
  EXPECT_EQ(m->pending_note(second.hash)->value_or(0), 12);
}

}  // namespace
}  // namespace blobsync
