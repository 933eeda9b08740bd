#include <gtest/gtest.h>

#include "store/mime_policy.h"

namespace blobsync {
namespace {

TEST(MimePolicyTest, Rules) {
  MimePolicy p(default_allowed_mime());
  EXPECT_EQ(*p.decide("image/png", "image/png"), "image/png");
  EXPECT_EQ(*p.decide("image/jpg", "image/jpeg"), "image/jpeg");
  EXPECT_EQ(*p.decide("application/octet-stream", "image/png"), "image/png");
  EXPECT_EQ(*p.decide("video/mp4", "video/quicktime"), "video/quicktime");
  // Recognised as something else than declared.
  auto spoof = p.decide("image/png", "application/x-executable");
  ASSERT_FALSE(spoof);
  EXPECT_EQ(spoof.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(spoof.error().code, Errc::kInvalidArgument);
  // Recognised, honest, not allowed.
  auto exe = p.decide("application/octet-stream", "application/x-executable");
  ASSERT_FALSE(exe);
  EXPECT_EQ(exe.error().code, Errc::kUnsupported);
  // Not recognised: the declared type decides.
  EXPECT_EQ(*p.decide("text/vtt", ""), "text/vtt");
  EXPECT_EQ(*p.decide("application/octet-stream", ""), "application/octet-stream");
  EXPECT_FALSE(p.decide("application/x-msdownload", ""));
  // Text declared as another text type: kept as declared.
  EXPECT_EQ(*p.decide("text/plain", "text/html"), "text/plain");
}

TEST(MimePolicyTest, Wildcards) {
  MimePolicy p({"image/*"});
  EXPECT_TRUE(p.allowed("image/avif"));
  EXPECT_FALSE(p.allowed("video/mp4"));
  EXPECT_FALSE(p.allowed("imagex/png"));
}

}  // namespace
}  // namespace blobsync
