// SqlDb on both backends: parameters and results, transactions, migrations
// (including several "servers" migrating at once), the placeholder rewriter
// and PostgreSQL's error mapping.
#include <gtest/gtest.h>

#include <thread>

#include "sql_test_util.h"

namespace blobsync {
namespace {

using testing::Backend;
using testing::SqlBackendTest;

TEST(NumberPlaceholders, SkipsLiteralsIdentifiersAndComments) {
  EXPECT_EQ(number_placeholders("SELECT ? , '?', \"a?\", ? -- why?\n, ?"), "SELECT $1 , '?', \"a?\", $2 -- why?\n, $3");
  EXPECT_EQ(number_placeholders("SELECT 'it''s ?', ?"), "SELECT 'it''s ?', $1");
  EXPECT_EQ(number_placeholders("SELECT '?"), "SELECT '?");  // unterminated: left alone, the server reports it
  EXPECT_EQ(number_placeholders(""), "");
}

TEST(SqlDialect, ExpandsDdlTokens) {
  EXPECT_EQ(kSqliteDialect.ddl("a ${INT}, b ${BYTES}, c ${KEY}, d ${ID}, $1 ${NOPE}"),
            "a INTEGER, b BLOB, c TEXT, d INTEGER PRIMARY KEY AUTOINCREMENT, $1 ${NOPE}");
  EXPECT_EQ(kPostgresDialect.ddl("a ${INT}, b ${BYTES}, c ${KEY}"), "a BIGINT, b BYTEA, c TEXT COLLATE \"C\"");
  EXPECT_EQ(kSqliteDialect.for_update(), "");
  EXPECT_EQ(kPostgresDialect.for_update(), " FOR UPDATE");
}

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

// PostgreSQL only: what the driver does with hostile or impossible input.
class PgOnlyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::pg_base_url()) GTEST_SKIP() << "BLOBSYNC_TEST_PG_URL is not set";
  }
};

TEST_F(PgOnlyTest, TextWithNulOrBadUtf8IsRefusedNotTruncated) {
  auto db = PgDb::connect(testing::fresh_pg_database());
  ASSERT_TRUE(db) << db.error().to_string();
  ASSERT_TRUE((*db)->migrate("t", {"CREATE TABLE t(s TEXT)"}));
  for (std::string_view bad : {std::string_view("a\0b", 3), std::string_view("\xff\xfe")}) {
    auto r = (*db)->query("INSERT INTO t VALUES (?)", {bad});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument) << r.error().to_string();
  }
  EXPECT_EQ((*db)->read("SELECT count(*) FROM t")->int64(0, 0), 0);
}

TEST_F(PgOnlyTest, BadUrlsAndUnreachableServersGiveClearErrors) {
  auto bad = PgDb::connect("postgresql://[broken");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::kInvalidArgument) << bad.error().to_string();
  std::string base = testing::pg_base_url();
  auto missing = PgDb::connect(base.substr(0, base.rfind('/') + 1) + "no_such_db");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::kNotFound) << missing.error().to_string();
  PgOptions quick;
  quick.connect_timeout = std::chrono::seconds(2);
  auto down = PgDb::connect("postgresql://blobsync@127.0.0.1:1/postgres", quick);  // nothing listens on port 1
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, Errc::kIOError) << down.error().to_string();
}

TEST_F(PgOnlyTest, PoolSurvivesTheServerDroppingItsConnections) {
  std::string url = testing::fresh_pg_database();
  std::string name = url.substr(url.rfind('/') + 1);
  auto db = PgDb::connect(url);
  ASSERT_TRUE(db) << db.error().to_string();
  auto admin = PgConnection::connect(testing::pg_base_url(), PgOptions{});
  ASSERT_TRUE(admin);
  // Kills every session of the database, as a server restart would, and
  // waits until they are gone.
  auto kill_sessions = [&] {
    ASSERT_TRUE((*admin)->query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ? AND pid <> pg_backend_pid()",
        {std::string_view(name)}));
    for (int i = 0; i < 3000; ++i) {
      auto n = (*admin)->query("SELECT count(*) FROM pg_stat_activity WHERE datname = ?", {std::string_view(name)});
      ASSERT_TRUE(n);
      if (n->int64(0, 0) == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "sessions did not end";
  };
  ASSERT_TRUE((*db)->query("SELECT 1"));
  kill_sessions();
  // The pooled connection is dead; a transaction notices and uses a new one.
  auto r = (*db)->transaction([](SqlConn& c) -> Result<> {
    auto q = c.query("SELECT 1");
    if (!q) return std::unexpected(q.error());
    return {};
  });
  EXPECT_TRUE(r) << r.error().to_string();
  kill_sessions();
  // So does a single write (not retried: the dead connection is noticed before use).
  EXPECT_TRUE((*db)->query("CREATE TABLE after_restart(x BIGINT)"));
  kill_sessions();
  EXPECT_TRUE((*db)->read("SELECT count(*) FROM after_restart"));
}

}  // namespace
}  // namespace blobsync
