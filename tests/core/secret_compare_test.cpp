// secrets_equal and bearer_token (core/secret_compare.h).
#include "core/secret_compare.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace blobsync {
namespace {

TEST(SecretCompare, EqualOnlyForTheSameBytes) {
  EXPECT_TRUE(secrets_equal("s3cret-token", "s3cret-token"));
  EXPECT_FALSE(secrets_equal("s3cret-token", "s3cret-tokem"));
  EXPECT_FALSE(secrets_equal("s3cret-token", "s3cret-toke")) << "a prefix is not the secret";
  EXPECT_FALSE(secrets_equal("s3cret-token", "s3cret-token "));
  EXPECT_FALSE(secrets_equal("", "x"));
  EXPECT_TRUE(secrets_equal("", ""));
  std::string with_nul("a\0b", 3);
  EXPECT_FALSE(secrets_equal(with_nul, "a")) << "bytes after a NUL count";
  EXPECT_TRUE(secrets_equal(with_nul, std::string("a\0b", 3)));
}

TEST(SecretCompare, BearerTokenTakesOnlyTheBearerScheme) {
  const std::pair<const char*, const char*> rows[] = {
      {"Bearer abc", "abc"}, {"bearer abc", "abc"}, {"  BEARER   abc  ", "abc"}, {"Basic abc", ""},
      {"Bearer", ""},        {"Bearer ", ""},       {"Bearerabc", ""},           {"", ""},
  };
  for (const auto& [header, token] : rows) EXPECT_EQ(bearer_token(header), token) << "'" << header << "'";
}

}  // namespace
}  // namespace blobsync
