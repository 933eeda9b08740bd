// Store URLs (src/store/s3/backend_url.cpp): which `--store` values are
// known, what each opens, and the errors for the ones that cannot be opened.
// Only disk backends are opened here; S3 ones are in s3_backend_test.cpp.
#include <gtest/gtest.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>

#include "../test_util.h"
#include "core/sha256.h"
#include "store/s3/backend_url.h"

namespace blobsync {
namespace {

using testing::TempDir;

TEST(BackendUrl, KnownKinds) {
  EXPECT_TRUE(known_store_url(""));
  EXPECT_TRUE(known_store_url("disk"));
  EXPECT_TRUE(known_store_url("disk:/srv/data"));
  EXPECT_TRUE(known_store_url("s3://bucket?endpoint=http://127.0.0.1:9000"));
  EXPECT_FALSE(known_store_url("DISK"));
  EXPECT_FALSE(known_store_url("disks"));
  EXPECT_FALSE(known_store_url("s3:/bucket"));
  EXPECT_FALSE(known_store_url("file:///srv/data"));
  EXPECT_FALSE(known_store_url(" disk"));
}

// "" and "disk" mean "the store's own DATA/blobs": no backend object.
TEST(BackendUrl, DefaultDiskIsNull) {
  for (const char* url : {"", "disk"}) {
    auto b = open_store_url(url);
    ASSERT_TRUE(b) << url << ": " << b.error().to_string();
    EXPECT_EQ(*b, nullptr) << url;
  }
}

TEST(BackendUrl, BadUrlsAreInvalidArguments) {
  for (const char* url : {"disk:", "ftp://host/x", "s3:/bucket", "DISK"}) {
    auto b = open_store_url(url);
    ASSERT_FALSE(b) << url;
    EXPECT_EQ(b.error().code, Errc::kInvalidArgument) << url;
    EXPECT_TRUE(b.error().message.starts_with("store")) << b.error().message;
  }
  // A malformed s3:// URL: the S3 parser's reason, prefixed with "store:".
  auto s3 = open_store_url("s3://A:B@");
  ASSERT_FALSE(s3);
  EXPECT_EQ(s3.error().code, Errc::kInvalidArgument);
  EXPECT_TRUE(s3.error().message.starts_with("store: ")) << s3.error().message;
}

// "disk:DIR" is DIR/blobs, and open_store_url_or_disk("", DIR) the same
// place: a blob written through one is seen by the other.
TEST(BackendUrl, DiskDirAndDefaultOpenTheSameBlobs) {
  TempDir tmp;
  auto dir = tmp.path() / "other";  // created on open
  auto named = open_store_url("disk:" + dir.string());
  ASSERT_TRUE(named) << named.error().to_string();
  ASSERT_NE(*named, nullptr);
  EXPECT_TRUE(std::filesystem::is_directory(dir / "blobs"));

  const std::string text = "stored through disk:DIR";
  auto digest = Sha256::of(text.data(), text.size());
  auto w = (*named)->create_writer(digest);
  ASSERT_TRUE(w) << w.error().to_string();
  ASSERT_TRUE((*w)->append(std::as_bytes(std::span(text.data(), text.size()))));
  ASSERT_TRUE((*w)->commit(digest));

  for (const char* url : {"", "disk"}) {
    auto b = open_store_url_or_disk(url, dir);
    ASSERT_TRUE(b) << b.error().to_string();
    ASSERT_NE(*b, nullptr);
    auto st = (*b)->stat(digest);
    ASSERT_TRUE(st) << st.error().to_string();
    EXPECT_EQ(st->size, text.size());
  }
  auto none = open_store_url_or_disk("", std::filesystem::path());
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, Errc::kInvalidArgument);
}

// A data directory that cannot be made (a file is in the way) names itself.
TEST(BackendUrl, UnusableDirectoryIsAClearError) {
  TempDir tmp;
  auto file = tmp.path() / "file";
  { std::ofstream(file) << "x"; }
  auto b = open_store_url("disk:" + (file / "sub").string());
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find(file.string()), std::string::npos) << b.error().message;
}

}  // namespace
}  // namespace blobsync
