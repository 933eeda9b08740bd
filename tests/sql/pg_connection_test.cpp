// The placeholder rewriter (`?` -> `$n`) of the PostgreSQL connection.
#include "sql/pg_connection.h"

#include <gtest/gtest.h>

namespace blobsync {
namespace {

TEST(NumberPlaceholders, SkipsLiteralsIdentifiersAndComments) {
  EXPECT_EQ(number_placeholders("SELECT ? , '?', \"a?\", ? -- why?\n, ?"), "SELECT $1 , '?', \"a?\", $2 -- why?\n, $3");
  EXPECT_EQ(number_placeholders("SELECT 'it''s ?', ?"), "SELECT 'it''s ?', $1");
  EXPECT_EQ(number_placeholders("SELECT '?"), "SELECT '?");  // unterminated: left alone, the server reports it
  EXPECT_EQ(number_placeholders(""), "");
}

}  // namespace
}  // namespace blobsync
