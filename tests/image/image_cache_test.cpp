// ImageCache: bounded, least recently used out first, atomic, survives reopening.
#include "image/image_cache.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/sha256.h"

namespace blobsync::image {
namespace {

namespace fs = std::filesystem;

std::string key(int i) {
  std::string s = std::to_string(i);
  return Sha256::of(s.data(), s.size()).hex();
}

class ImageCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("image-cache-" + std::to_string(::getpid()) + "-" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::uint64_t bytes_on_disk() {
    std::uint64_t n = 0;
    for (auto& e : fs::recursive_directory_iterator(dir_))
      if (e.is_regular_file()) n += e.file_size();
    return n;
  }
  fs::path dir_;
};

TEST_F(ImageCacheTest, StoresAndReturns) {
  auto c = ImageCache::open(dir_, 1000);
  ASSERT_TRUE(c);
  EXPECT_FALSE((*c)->get(key(1)));
  ASSERT_TRUE((*c)->put(key(1), "hello"));
  EXPECT_EQ((*c)->get(key(1)), "hello");
  EXPECT_EQ((*c)->bytes(), 5u);
  EXPECT_EQ((*c)->entries(), 1u);
  EXPECT_FALSE((*c)->put("../../etc/passwd", "x")) << "only cache keys name files";
}

TEST_F(ImageCacheTest, EvictsLeastRecentlyUsedWithinTheBound) {
  auto c = ImageCache::open(dir_, 300);
  ASSERT_TRUE(c);
  std::string hundred(100, 'x');
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE((*c)->put(key(i), hundred));
  EXPECT_TRUE((*c)->get(key(1)));  // 1 is now the most recent; 2 the least
  ASSERT_TRUE((*c)->put(key(4), hundred));
  EXPECT_FALSE((*c)->get(key(2)));
  EXPECT_TRUE((*c)->get(key(1)));
  EXPECT_TRUE((*c)->get(key(3)));
  EXPECT_TRUE((*c)->get(key(4)));
  EXPECT_LE((*c)->bytes(), 300u);
  EXPECT_EQ(bytes_on_disk(), (*c)->bytes()) << "evicted files are gone from disk";
  // An entry larger than the whole cache is not stored, and evicts nothing.
  ASSERT_TRUE((*c)->put(key(5), std::string(301, 'y')));
  EXPECT_FALSE((*c)->get(key(5)));
  EXPECT_EQ((*c)->entries(), 3u);
}

TEST_F(ImageCacheTest, ReopensWithWhatWasThereAndDropsTemporaries) {
  {
    auto c = ImageCache::open(dir_, 1000);
    ASSERT_TRUE(c);
    ASSERT_TRUE((*c)->put(key(1), "one"));
    ASSERT_TRUE((*c)->put(key(2), "two"));
  }
  // A crash mid-put leaves a temporary; it must not be served or counted.
  fs::path tmp = dir_ / key(3).substr(0, 2) / (key(3) + ".123.1.tmp");
  fs::create_directories(tmp.parent_path());
  std::ofstream(tmp) << "half";
  auto c = ImageCache::open(dir_, 1000);
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)->get(key(1)), "one");
  EXPECT_EQ((*c)->get(key(2)), "two");
  EXPECT_FALSE((*c)->get(key(3)));
  EXPECT_FALSE(fs::exists(tmp));
  EXPECT_EQ((*c)->bytes(), 6u);
}

TEST_F(ImageCacheTest, ReopeningWithASmallerBoundEvicts) {
  {
    auto c = ImageCache::open(dir_, 1000);
    ASSERT_TRUE(c);
    for (int i = 1; i <= 5; ++i) ASSERT_TRUE((*c)->put(key(i), std::string(100, 'z')));
  }
  auto c = ImageCache::open(dir_, 250);
  ASSERT_TRUE(c);
  EXPECT_LE((*c)->bytes(), 250u);
  EXPECT_EQ((*c)->entries(), 2u);
  EXPECT_EQ(bytes_on_disk(), (*c)->bytes());
}

TEST_F(ImageCacheTest, AnEntryDeletedBehindItsBackIsAMiss) {
  auto c = ImageCache::open(dir_, 1000);
  ASSERT_TRUE(c);
  ASSERT_TRUE((*c)->put(key(1), "one"));
  fs::remove(dir_ / key(1).substr(0, 2) / key(1));
  EXPECT_FALSE((*c)->get(key(1)));
  EXPECT_EQ((*c)->bytes(), 0u);
}

}  // namespace
}  // namespace blobsync::image
