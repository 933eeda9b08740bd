// The disk backend on its own (enumeration, recovery, O_DIRECT path).
#include "store/disk_backend.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

#include "store/blob_store.h"
#include "store/env.h"
#include "test_util.h"

namespace blobsync {
namespace {

using testing::random_bytes;
using testing::sha;
using testing::TempDir;

TEST(DiskBackend, WriterCommitReadEnumerate) {
  TempDir tmp;
  auto b = DiskBackend::open(Env::posix(), tmp.path() / "blobs");
  ASSERT_TRUE(b) << b.error().to_string();
  for (int s = 0; s < 256; ++s)
    EXPECT_TRUE(std::filesystem::is_directory(tmp.path() / "blobs" / fmt::format("{:02x}", s)));
  std::vector<Digest> ds;
  for (int i = 0; i < 20; ++i) {
    auto data = random_bytes(static_cast<std::size_t>(i) * 1000 + 1, static_cast<std::uint64_t>(i));
    auto w = (*b)->create_writer();
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(data));
    ASSERT_TRUE((*w)->commit(sha(data)));
    ds.push_back(sha(data));
  }
  std::sort(ds.begin(), ds.end());
  auto all = (*b)->enumerate(std::nullopt, 100);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 20u);
  for (std::size_t i = 0; i < 20; ++i) EXPECT_EQ((*all)[i].digest, ds[i]);
  auto after = (*b)->enumerate(ds[9], 3);
  ASSERT_EQ(after->size(), 3u);
  EXPECT_EQ((*after)[0].digest, ds[10]);
  EXPECT_TRUE((*b)->enumerate(ds[19], 3)->empty());
  EXPECT_TRUE((*b)->enumerate(std::nullopt, 0)->empty());
  // Names that are not blobs are skipped.
  std::ofstream(tmp.path() / "blobs" / "00" / "README") << "x";
  std::ofstream(tmp.path() / "blobs" / "00" / std::string(64, 'A')) << "x";
  EXPECT_EQ((*b)->enumerate(std::nullopt, 100)->size(), 20u);
  ASSERT_TRUE((*b)->remove(ds[0]));
  ASSERT_TRUE((*b)->remove(ds[0]));  // removing a missing blob is fine
  EXPECT_EQ((*b)->stat(ds[0]).error().code, Errc::kNotFound);
  EXPECT_EQ((*b)->open(ds[0]).error().code, Errc::kNotFound);
}

TEST(DiskBackend, DirectIoPathRoundTrips) {
  TempDir tmp;
  DiskBackendOptions opt;
  opt.direct_io = true;
  opt.direct_io_after = 0;
  auto b = DiskBackend::open(Env::posix(), tmp.path() / "blobs", opt);
  ASSERT_TRUE(b);
  StoreOptions so;
  so.data_dir = tmp.path();
  so.backend = std::shared_ptr<BlobBackend>(std::move(*b));
  auto store = BlobStore::open(so);
  ASSERT_TRUE(store);
  for (std::size_t size : {std::size_t{0}, std::size_t{4096}, std::size_t{1} << 20, (std::size_t{3} << 20) + 5}) {
    auto data = random_bytes(size, size);
    auto rec = (*store)->put_bytes(data, {});
    ASSERT_TRUE(rec) << rec.error().to_string();
    std::vector<std::byte> back;
    ASSERT_TRUE((*store)->read_verified(rec->hash, [&](std::span<const std::byte> s) -> Result<> {
      back.insert(back.end(), s.begin(), s.end());
      return {};
    }));
    EXPECT_EQ(back, data);
  }
}

}  // namespace
}  // namespace blobsync
