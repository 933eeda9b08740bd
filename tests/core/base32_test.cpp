#include "core/base32.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace blobsync {
namespace {

TEST(Base32, TrailingBitsMustBeZero) {
  auto ok = base32::decode_lower("ae");  // 00000 00100: byte 0x01, trailing bits 00
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, std::vector<std::uint8_t>{0x01});
  EXPECT_FALSE(base32::decode_lower("ab").has_value());  // trailing bits 01
  EXPECT_FALSE(base32::decode_lower("a").has_value());   // 5 bits: not a whole byte
}

TEST(Base32, Rfc4648Vectors) {
  std::vector<std::uint8_t> foo = {'f', 'o', 'o'};
  EXPECT_EQ(base32::encode_lower(foo), "mzxw6");
  auto back = base32::decode_lower("mzxw6");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, foo);
  std::vector<std::uint8_t> foobar = {'f', 'o', 'o', 'b', 'a', 'r'};
  EXPECT_EQ(base32::encode_lower(foobar), "mzxw6ytboi");
}

}  // namespace
}  // namespace blobsync
