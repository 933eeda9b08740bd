// SqlDialect: the DDL tokens and clauses each backend spells its own way.
#include "sql/sql_dialect.h"

#include <gtest/gtest.h>

namespace blobsync {
namespace {

TEST(SqlDialect, ExpandsDdlTokens) {
  EXPECT_EQ(kSqliteDialect.ddl("a ${INT}, b ${BYTES}, c ${KEY}, d ${ID}, $1 ${NOPE}"),
            "a INTEGER, b BLOB, c TEXT, d INTEGER PRIMARY KEY AUTOINCREMENT, $1 ${NOPE}");
  EXPECT_EQ(kPostgresDialect.ddl("a ${INT}, b ${BYTES}, c ${KEY}"), "a BIGINT, b BYTEA, c TEXT COLLATE \"C\"");
  EXPECT_EQ(kSqliteDialect.for_update(), "");
  EXPECT_EQ(kPostgresDialect.for_update(), " FOR UPDATE");
}

}  // namespace
}  // namespace blobsync
