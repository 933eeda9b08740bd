// PgDb (PostgreSQL only): PostgreSQL's error mapping and what the driver does
// with hostile or impossible input. Runs under tests/pg/pg_tmp.sh (pg.sql_tests);
// skips when $BLOBSYNC_TEST_PG_URL is unset.
#include "sql/pg_db.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <thread>

#include "sql/pg_connection.h"
#include "sql_test_util.h"

namespace blobsync {
namespace {

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
