// Helpers for tests that run on both metadata backends: a fresh SqlDb per
// test, SQLite in a temporary directory or a new database on the PostgreSQL
// server named by $BLOBSYNC_TEST_PG_URL (tests/pg/pg_tmp.sh run sets it).
// PostgreSQL cases skip when it is unset.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>

#include "../store/test_util.h"
#include "sql/pg_connection.h"
#include "sql/pg_db.h"
#include "sql/sqlite_sql_db.h"

namespace blobsync::testing {

inline const char* pg_base_url() {
  const char* url = std::getenv("BLOBSYNC_TEST_PG_URL");
  return url && *url ? url : nullptr;
}

// Creates an empty database on the test server; returns its URL.
inline std::string fresh_pg_database() {
  static std::atomic<int> counter{0};
  std::string base = pg_base_url();
  std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  auto admin = PgConnection::connect(base, PgOptions{});
  if (!admin) {
    ADD_FAILURE() << admin.error().to_string();
    return {};
  }
  if (auto r = (*admin)->exec("CREATE DATABASE " + name); !r) ADD_FAILURE() << r.error().to_string();
  return base.substr(0, base.rfind('/') + 1) + name;
}

// A test parameter: which backend.
enum class Backend { kSqlite, kPostgres };

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

// Fixture base: url() names one database for the whole test; open() may be
// called several times to get several independent handles ("servers").
class SqlBackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres) {
      if (!pg_base_url()) GTEST_SKIP() << "BLOBSYNC_TEST_PG_URL is not set (run through tests/pg/pg_tmp.sh)";
      url_ = fresh_pg_database();
    } else {
      url_ = "sqlite:" + (tmp_.path() / "meta.db").string();
    }
  }
  const std::string& url() const { return url_; }
  std::shared_ptr<SqlDb> open() {
    if (GetParam() == Backend::kPostgres) {
      auto db = PgDb::connect(url_);
      EXPECT_TRUE(db) << db.error().to_string();
      return db ? std::shared_ptr<SqlDb>(std::move(*db)) : nullptr;
    }
    auto db = SqliteSqlDb::open(tmp_.path() / "meta.db");
    EXPECT_TRUE(db) << db.error().to_string();
    return db ? std::shared_ptr<SqlDb>(std::move(*db)) : nullptr;
  }
  const std::filesystem::path& dir() const { return tmp_.path(); }

 private:
  TempDir tmp_;
  std::string url_;
};

#define BLOBSYNC_BOTH_BACKENDS(Fixture)                                                                     \
  INSTANTIATE_TEST_SUITE_P(Backends, Fixture,                                                               \
                           ::testing::Values(::blobsync::testing::Backend::kSqlite,                         \
                                             ::blobsync::testing::Backend::kPostgres),                      \
                           ::blobsync::testing::backend_name)

}  // namespace blobsync::testing
