// SqliteDb: migrations apply once, in order, and all or nothing.
#include "sql/sqlite_db.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../store/test_util.h"

namespace blobsync {
namespace {

using testing::TempDir;

TEST(SqliteDb, MigrationsApplyOnceAndInOrder) {
  TempDir tmp;
  auto path = tmp.path() / "m.db";
  std::vector<std::string> steps = {"CREATE TABLE a(x INTEGER)", "ALTER TABLE a ADD COLUMN y TEXT"};
  {
    auto db = SqliteDb::open(path);
    ASSERT_TRUE(db) << db.error().to_string();
    ASSERT_TRUE((*db)->migrate("comp", steps));
    EXPECT_EQ(*(*db)->schema_version("comp"), 2);
    EXPECT_EQ(*(*db)->schema_version("other"), 0);
    ASSERT_TRUE((*db)->migrate("comp", steps));  // idempotent
    auto lock = (*db)->lock();
    ASSERT_TRUE((*db)->exec("INSERT INTO a(x, y) VALUES (1, 'one')"));
  }
  {
    auto db = SqliteDb::open(path);
    ASSERT_TRUE(db);
    steps.push_back("CREATE INDEX a_y ON a(y)");
    ASSERT_TRUE((*db)->migrate("comp", steps));
    EXPECT_EQ(*(*db)->schema_version("comp"), 3);
    // An older binary (fewer steps) refuses the newer schema.
    auto old = (*db)->migrate("comp", {steps[0]});
    ASSERT_FALSE(old);
    EXPECT_EQ(old.error().code, Errc::kCorruption);
    EXPECT_NE(old.error().message.find("newer"), std::string::npos);
  }
}

TEST(SqliteDb, FailedMigrationChangesNothing) {
  TempDir tmp;
  auto db = SqliteDb::open(tmp.path() / "m.db");
  ASSERT_TRUE(db);
  auto r = (*db)->migrate("c", {"CREATE TABLE t(x)", "THIS IS NOT SQL"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("migration 2"), std::string::npos) << r.error().message;
  EXPECT_EQ(*(*db)->schema_version("c"), 0);
  auto lock = (*db)->lock();
  auto st = (*db)->prepare("SELECT count(*) FROM sqlite_schema WHERE name = 't'");
  ASSERT_TRUE(st);
  ASSERT_TRUE(*st->step());
  EXPECT_EQ(st->column_int64(0), 0);
}

}  // namespace
}  // namespace blobsync
