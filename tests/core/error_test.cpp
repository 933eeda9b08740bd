// Error and Result (src/core/error.cpp): code names, the one-line message,
// errno mapping, and Result's behaviour as a std::expected.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>

#include "core/error.h"

namespace blobsync {
namespace {

TEST(Error, EveryCodeHasItsOwnName) {
  std::set<std::string_view> names;
  for (int i = static_cast<int>(Errc::kInvalidArgument); i <= static_cast<int>(Errc::kInternal); ++i) {
    auto name = errc_name(static_cast<Errc>(i));
    EXPECT_FALSE(name.empty());
    EXPECT_NE(name, "Unknown") << i;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(Errc::kInternal) + 1);  // no two codes share a name
  EXPECT_EQ(errc_name(Errc::kNotFound), "NotFound");
  EXPECT_EQ(errc_name(Errc::kNoSpace), "NoSpace");
  EXPECT_EQ(errc_name(static_cast<Errc>(999)), "Unknown");  // a value off the enum still prints
}

TEST(Error, ToStringIsCodeThenMessage) {
  EXPECT_EQ((Error{Errc::kNotFound, "blob sha256:ab is not stored"}).to_string(),
            "NotFound: blob sha256:ab is not stored");
  EXPECT_EQ(Error{}.to_string(), "Internal: ");  // the default is an internal error
}

TEST(Error, ErrnoMapping) {
  struct Case {
    int err;
    Errc code;
  };
  for (const auto& c : {Case{ENOSPC, Errc::kNoSpace}, Case{EDQUOT, Errc::kNoSpace},
                        Case{EACCES, Errc::kPermissionDenied}, Case{EPERM, Errc::kPermissionDenied},
                        Case{EROFS, Errc::kPermissionDenied}, Case{ENOENT, Errc::kNotFound},
                        Case{EIO, Errc::kIOError}, Case{EEXIST, Errc::kIOError}, Case{0, Errc::kIOError}}) {
    auto e = errno_error(c.err, "open /data/x");
    EXPECT_EQ(e.code, c.code) << std::strerror(c.err);
    EXPECT_EQ(e.message, std::string("open /data/x: ") + std::strerror(c.err));
  }
}

TEST(Error, FailAndMakeError) {
  Result<int> r = fail(Errc::kTooLarge, "blob of {} bytes over the limit of {}", 10, 5);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kTooLarge);
  EXPECT_EQ(r.error().message, "blob of 10 bytes over the limit of 5");
  Result<> v = make_error(Errc::kConflict, "x");
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, Errc::kConflict);
  // A brace in an argument is not a format string.
  Result<> braces = fail(Errc::kInvalidArgument, "bad name {}", "{0}");
  EXPECT_EQ(braces.error().message, "bad name {0}");
}

// Result behaves as the std::expected it is: values, errors, comparisons.
TEST(Error, ResultIsAnExpected) {
  Result<int> ok = 3;
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 3);
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(ok.value_or(9), 3);
  EXPECT_FALSE(ok == 4);
  BasicResult<int, int> x = 1, y = 1, z = std::unexpected(1);
  EXPECT_TRUE(x == y);  // two Results compare as their std::expecteds do
  EXPECT_FALSE(x == z);
  Result<int> bad = make_error(Errc::kInternal, "x");
  EXPECT_EQ(bad.value_or(9), 9);
  EXPECT_FALSE(bad == 3);
  std::expected<int, Error> plain = 5;
  Result<int> from_plain = plain;  // implicit from a std::expected
  EXPECT_EQ(*from_plain, 5);
  Result<> done;
  EXPECT_TRUE(done);
}

}  // namespace
}  // namespace blobsync
