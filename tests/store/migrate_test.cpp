// migrate_blobs (store/migrate.h) between the disk backend and S3: disk ->
// S3 -> disk round trip, resuming an interrupted migration, and a corrupt
// source blob that must not be copied.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "s3/s3_test_util.h"
#include "store/disk_backend.h"
#include "store/env.h"
#include "store/migrate.h"

namespace blobsync::s3::testing {
namespace {

class MigrateTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    root_ = std::filesystem::temp_directory_path() /
            ("blobsync-migrate-" + std::to_string(::getpid()) + "-" + kind_name(GetParam()));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  void TearDown() override {
    if (!root_.empty()) std::filesystem::remove_all(root_);
  }

  std::unique_ptr<DiskBackend> disk(const std::string& name) {
    auto d = DiskBackend::open(Env::posix(), root_ / name);
    EXPECT_TRUE(d) << d.error().to_string();
    return d ? std::move(*d) : nullptr;
  }

  std::filesystem::path root_;
};

TEST_P(MigrateTest, DiskToS3ToDiskIsVerifiedAndResumable) {
  auto src = disk("a");
  ASSERT_TRUE(src);
  std::size_t part = server_->config().part_size;
  std::vector<std::vector<std::byte>> blobs;
  for (std::size_t size : {std::size_t{0}, std::size_t{1000}, part + 1, 3 * part + 7}) {
    blobs.push_back(random_bytes(size, size + 3));
    ASSERT_TRUE(put_blob(*src, blobs.back()));
  }
  // An interrupted earlier run: one blob already copied.
  ASSERT_TRUE(put_blob(*backend_, blobs[2], 10007, true));

  auto first = migrate_blobs(*src, *backend_);
  ASSERT_TRUE(first) << first.error().to_string();
  EXPECT_EQ(first->blobs_seen, 4u);
  EXPECT_EQ(first->copied, 3u);
  EXPECT_EQ(first->skipped, 1u);
  EXPECT_TRUE(first->failures.empty());
  EXPECT_FALSE(any_with_prefix(all_keys(backend_->client()), "tmp/")) << "known-digest uploads go straight to blobs/";

  auto again = migrate_blobs(*src, *backend_);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->copied, 0u);
  EXPECT_EQ(again->skipped, 4u);

  auto back = disk("b");
  ASSERT_TRUE(back);
  std::uint64_t progress_calls = 0;
  MigrateOptions o;
  o.on_progress = [&](const MigrateProgress&) { ++progress_calls; };
  auto home = migrate_blobs(*backend_, *back, o);
  ASSERT_TRUE(home) << home.error().to_string();
  EXPECT_EQ(home->copied, 4u);
  EXPECT_EQ(progress_calls, 4u);
  for (const auto& data : blobs) {
    auto got = read_blob(*back, Sha256::of(data));
    ASSERT_TRUE(got) << got.error().to_string();
    EXPECT_TRUE(*got == data);
  }
}

TEST_P(MigrateTest, CorruptSourceBlobIsReportedAndNotCopied) {
  auto src = disk("a");
  ASSERT_TRUE(src);
  auto good = random_bytes(5000, 1), bad = random_bytes(6000, 2);
  ASSERT_TRUE(put_blob(*src, good));
  auto bad_digest = put_blob(*src, bad);
  ASSERT_TRUE(bad_digest);
  {
    std::string hex = bad_digest->hex();
    std::fstream f(root_ / "a" / hex.substr(0, 2) / hex, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x42' ^ static_cast<char>(bad[100]));
  }
  auto p = migrate_blobs(*src, *backend_);
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_EQ(p->copied, 1u);
  ASSERT_EQ(p->failures.size(), 1u);
  EXPECT_EQ(p->failures[0].digest, *bad_digest);
  EXPECT_EQ(p->failures[0].error.code, Errc::kCorruption);
  EXPECT_EQ(backend_->stat(*bad_digest).error().code, Errc::kNotFound) << "a wrong object became visible";
  EXPECT_EQ(all_keys(backend_->client()).size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Servers, MigrateTest, ::testing::Values(ServerKind::kFake, ServerKind::kS3rver),
                         [](const ::testing::TestParamInfo<ServerKind>& p) { return std::string(kind_name(p.param)); });

}  // namespace
}  // namespace blobsync::s3::testing
