// SqlDb on both backends: parameters and results, transactions, migrations
// (including several "servers" migrating at once).
#include "sql/sql_db.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>

#include "sql_test_util.h"

namespace blobsync {
namespace {

using testing::Backend;
using testing::SqlBackendTest;

class SqlDbTest : public SqlBackendTest {};
BLOBSYNC_BOTH_BACKENDS(SqlDbTest);

TEST_P(SqlDbTest, ParametersAndResultsRoundTrip) {
  auto db = open();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->migrate("t", {"CREATE TABLE t(id ${INT} PRIMARY KEY, s TEXT, b ${BYTES}, n ${INT})"}));
  const std::uint8_t raw[] = {0, 1, 0xff, 0, 'x'};  // NULs inside bytes must survive
  auto ins = db->query("INSERT INTO t(id, s, b, n) VALUES (?, ?, ?, ?)",
                       {std::int64_t{1}, std::string_view("h\xc3\xa9llo"), SqlBytes{raw}, nullptr});
  ASSERT_TRUE(ins) << ins.error().to_string();
  EXPECT_EQ(ins->affected(), 1);
  ASSERT_TRUE(db->query("INSERT INTO t(id, s, b, n) VALUES (?, ?, ?, ?)",
                        {std::int64_t{2}, std::string_view(""), SqlBytes{}, INT64_MIN}));
  auto rows = db->read("SELECT id, s, b, n FROM t ORDER BY id");
  ASSERT_TRUE(rows) << rows.error().to_string();
  ASSERT_EQ(rows->rows(), 2u);
  EXPECT_EQ(rows->affected(), 0);
  EXPECT_EQ(rows->int64(0, 0), 1);
  EXPECT_EQ(rows->text(0, 1), "h\xc3\xa9llo");
  auto b = rows->bytes(0, 2);
  EXPECT_EQ(std::vector<std::uint8_t>(b.begin(), b.end()), std::vector<std::uint8_t>(std::begin(raw), std::end(raw)));
  EXPECT_TRUE(rows->is_null(0, 3));
  EXPECT_EQ(rows->text(1, 1), "");
  EXPECT_FALSE(rows->is_null(1, 2));
  EXPECT_TRUE(rows->bytes(1, 2).empty());
  EXPECT_EQ(rows->int64(1, 3), INT64_MIN);
  // Aggregates arrive as integers on both (PostgreSQL's sum is numeric text).
  auto agg = db->read("SELECT count(*), coalesce(sum(id), 0), count(*) > 1 FROM t");
  ASSERT_TRUE(agg);
  EXPECT_EQ(agg->int64(0, 0), 2);
  EXPECT_EQ(agg->int64(0, 1), 3);
  EXPECT_EQ(agg->int64(0, 2), 1);
  auto upd = db->query("UPDATE t SET n = ? WHERE id > ?", {std::int64_t{7}, std::int64_t{0}});
  ASSERT_TRUE(upd);
  EXPECT_EQ(upd->affected(), 2);
  auto ret = db->query("DELETE FROM t WHERE id = ? RETURNING s", {std::int64_t{1}});
  ASSERT_TRUE(ret) << ret.error().to_string();
  ASSERT_EQ(ret->rows(), 1u);
  EXPECT_EQ(ret->affected(), 1);
}

TEST_P(SqlDbTest, TransactionsCommitOrRollBackWhole) {
  auto db = open();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->migrate("t", {"CREATE TABLE t(k TEXT PRIMARY KEY, v ${INT})"}));
  auto failed = db->transaction([](SqlConn& c) -> Result<> {
    if (auto r = c.query("INSERT INTO t VALUES ('a', 1)"); !r) return std::unexpected(r.error());
    return fail(Errc::kCancelled, "changed my mind");
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, Errc::kCancelled);
  EXPECT_TRUE(db->read("SELECT 1 FROM t")->empty());
  ASSERT_TRUE(db->transaction([](SqlConn& c) -> Result<> {
    for (const char* k : {"a", "b"})
      if (auto r = c.query("INSERT INTO t VALUES (?, 1)", {std::string_view(k)}); !r) return std::unexpected(r.error());
    return {};
  }));
  EXPECT_EQ(db->read("SELECT count(*) FROM t")->int64(0, 0), 2);
  // A constraint violation is kConflict, and the statement changes nothing.
  auto dup = db->query("INSERT INTO t VALUES ('a', 2)");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, Errc::kConflict) << dup.error().to_string();
  auto bad = db->query("SELECT nope FROM t");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("nope"), std::string::npos) << bad.error().message;
}

TEST_P(SqlDbTest, MigrationsApplyOnceRefuseNewerAndRollBack) {
  auto db = open();
  ASSERT_TRUE(db);
  std::vector<std::string> steps = {"CREATE TABLE a(x ${INT})", "ALTER TABLE a ADD COLUMN y TEXT"};
  ASSERT_TRUE(db->migrate("comp", steps));
  ASSERT_TRUE(db->migrate("comp", steps));
  EXPECT_EQ(*db->schema_version("comp"), 2);
  EXPECT_EQ(*db->schema_version("other"), 0);
  auto old = db->migrate("comp", {steps[0]});
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code, Errc::kCorruption);
  EXPECT_NE(old.error().message.find("newer"), std::string::npos);
  auto broken = db->migrate("c2", {"CREATE TABLE t2(x ${INT})", "THIS IS NOT SQL"});
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().message.find("migration 2"), std::string::npos) << broken.error().message;
  EXPECT_EQ(*db->schema_version("c2"), 0);
  EXPECT_FALSE(db->read("SELECT count(*) FROM t2"));  // step 1 was rolled back with step 2
}

TEST_P(SqlDbTest, ServersStartingAtOnceMigrateOnce) {
  std::vector<std::shared_ptr<SqlDb>> servers;
  for (int i = 0; i < 4; ++i) servers.push_back(open());
  std::vector<std::string> steps = {"CREATE TABLE m(x ${INT})", "CREATE INDEX m_x ON m(x)",
                                    "ALTER TABLE m ADD COLUMN y TEXT"};
  std::vector<Result<>> results(servers.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < servers.size(); ++i)
    threads.emplace_back([&, i] { results[i] = servers[i]->migrate("race", steps); });
  for (auto& t : threads) t.join();
  for (auto& r : results) EXPECT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(*servers[0]->schema_version("race"), 3);
}

TEST_P(SqlDbTest, ConcurrentTransactionsDoNotLoseUpdates) {
  // Two "servers", each with writer threads, increment one counter under a
  // row lock; every increment must land.
  auto a = open(), b = open();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->migrate("c", {"CREATE TABLE counter(id ${INT} PRIMARY KEY, n ${INT} NOT NULL)"}));
  ASSERT_TRUE(a->query("INSERT INTO counter VALUES (1, 0)"));
  constexpr int kThreads = 4, kEach = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    SqlDb* db = t % 2 ? a.get() : b.get();
    threads.emplace_back([db, &failures] {
      for (int i = 0; i < kEach; ++i) {
        auto r = db->transaction([&](SqlConn& c) -> Result<> {
          auto row = c.query("SELECT n FROM counter WHERE id = 1" + std::string(c.dialect().for_update()));
          if (!row) return std::unexpected(row.error());
          auto upd = c.query("UPDATE counter SET n = ? WHERE id = 1", {row->int64(0, 0) + 1});
          if (!upd) return std::unexpected(upd.error());
          return {};
        });
        if (!r) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(a->read("SELECT n FROM counter")->int64(0, 0), kThreads * kEach);
}

// Concurrent transactions (committed as a group on SQLite) succeed or fail
// each on its own: a failing body, a body that throws and a body that breaks
// a constraint leave nothing behind, and the others all commit.
TEST_P(SqlDbTest, ConcurrentTransactionsSucceedOrFailEachAlone) {
  auto db = open();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->migrate("g", {"CREATE TABLE g(id ${INT} PRIMARY KEY, v ${INT} NOT NULL)"}));
  ASSERT_TRUE(db->query("INSERT INTO g VALUES (-1, 0)"));
  constexpr int kThreads = 8, kEach = 30;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::int64_t id = t * kEach + i;
        int kind = static_cast<int>(id % 5);  // 0: fails, 1: throws, 2: breaks the key, else commits
        try {
          auto r = db->transaction([&](SqlConn& c) -> Result<> {
            if (auto ins = c.query("INSERT INTO g VALUES (?, ?)", {id, std::int64_t{1}}); !ins)
              return std::unexpected(ins.error());
            if (kind == 0) return fail(Errc::kConflict, "refused");
            if (kind == 1) throw std::runtime_error("thrown");
            if (kind == 2) {
              auto dup = c.query("INSERT INTO g VALUES (-1, 0)");
              if (!dup) return std::unexpected(dup.error());
            }
            return {};
          });
          if (r.has_value() != (kind > 2)) ++wrong;
          if (!r && kind == 0 && r.error().code != Errc::kConflict) ++wrong;
        } catch (const std::runtime_error&) {
          if (kind != 1) ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  auto rows = db->read("SELECT id FROM g WHERE id >= 0 ORDER BY id");
  ASSERT_TRUE(rows);
  std::vector<std::int64_t> want;
  for (std::int64_t id = 0; id < kThreads * kEach; ++id)
    if (id % 5 > 2) want.push_back(id);
  std::vector<std::int64_t> got;
  for (std::size_t i = 0; i < rows->rows(); ++i) got.push_back(rows->int64(i, 0));
  EXPECT_EQ(got, want);
}

// A body that throws leaves nothing behind, not even for the next
// transaction on the same pooled connection to commit by accident.
TEST_P(SqlDbTest, AThrownBodyIsRolledBackBeforeItsConnectionIsReused) {
  auto db = open();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->migrate("t", {"CREATE TABLE t(id ${INT} PRIMARY KEY)"}));
  for (std::int64_t round = 0; round < 4; ++round) {
    EXPECT_THROW((void)db->transaction([&](SqlConn& c) -> Result<> {
      if (auto r = c.query("INSERT INTO t VALUES (?)", {2 * round}); !r) return std::unexpected(r.error());
      throw std::runtime_error("thrown");
    }),
                 std::runtime_error);
    ASSERT_TRUE(db->transaction([&](SqlConn& c) -> Result<> {
      if (auto r = c.query("INSERT INTO t VALUES (?)", {2 * round + 1}); !r) return std::unexpected(r.error());
      return {};
    }));
  }
  auto rows = db->read("SELECT id FROM t ORDER BY id");
  ASSERT_TRUE(rows);
  std::vector<std::int64_t> got;
  for (std::size_t i = 0; i < rows->rows(); ++i) got.push_back(rows->int64(i, 0));
  EXPECT_EQ(got, (std::vector<std::int64_t>{1, 3, 5, 7}));
}

}  // namespace
}  // namespace blobsync
