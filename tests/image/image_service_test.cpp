// ImageService: cache first, one render for concurrent identical requests.
#include "image/image_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

namespace blobsync::image {
namespace {

namespace fs = std::filesystem;

std::string test_jpeg() {
  // Per process: CTest runs tests in parallel.
  std::string base = ::testing::TempDir() + "/blobsync-svc-" + std::to_string(::getpid());
  std::string cmd = "vips black '" + base + ".v' 800 600 --bands 3 >/dev/null 2>&1 && vips linear '" + base +
                    ".v' '" + base + ".jpg' 1 60 --uchar >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return {};
  std::ifstream in(base + ".jpg", std::ios::binary);
  std::string bytes(std::istreambuf_iterator<char>(in), {});
  fs::remove(base + ".v");
  fs::remove(base + ".jpg");
  return bytes;
}

TEST(ImageService, RendersOnceForConcurrentRequestsThenHits) {
  fs::path dir = fs::path(::testing::TempDir()) / ("image-service-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto s = ImageService::open({.cache_dir = dir, .cache_bytes = 1 << 20, .limits = {}});
  ASSERT_TRUE(s) << s.error().to_string();
  std::string src = test_jpeg();
  ASSERT_FALSE(src.empty());
  Digest d{};
  d.bytes[0] = 7;
  ImageParams p{.width = 128, .height = 128, .fit = Fit::kCover, .format = Format::kWebp, .quality = 80};
  std::atomic<int> loads{0};
  auto load = [&]() -> Result<std::string> {
    ++loads;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // all requests arrive while it runs
    return src;
  };
  std::vector<std::thread> threads;
  std::atomic<int> rendered{0}, shared{0};
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      auto r = (*s)->get(d, p, load);
      ASSERT_TRUE(r) << r.error().to_string();
      if (r->origin == ImageService::Origin::kRendered) ++rendered;
      if (r->origin == ImageService::Origin::kShared) ++shared;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(loads.load(), 1);
  EXPECT_EQ(rendered.load(), 1);
  EXPECT_EQ(shared.load(), 3);
  auto hit = (*s)->get(d, p, load);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->origin, ImageService::Origin::kHit);
  EXPECT_EQ(loads.load(), 1);
  fs::remove_all(dir);
}

TEST(ImageService, FailuresAreSharedButNotCached) {
  fs::path dir = fs::path(::testing::TempDir()) / ("image-service-f-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto s = ImageService::open({.cache_dir = dir, .cache_bytes = 1 << 20, .limits = {}});
  ASSERT_TRUE(s);
  Digest d{};
  ImageParams p{.width = 64, .height = 64, .fit = Fit::kCover, .format = Format::kJpeg, .quality = 80};
  int loads = 0;
  auto bad = [&]() -> Result<std::string> {
    ++loads;
    return std::string("not an image");
  };
  EXPECT_EQ((*s)->get(d, p, bad).error().code, Errc::kUnsupported);
  EXPECT_EQ((*s)->get(d, p, bad).error().code, Errc::kUnsupported);
  EXPECT_EQ(loads, 2);
  EXPECT_EQ((*s)->cache().entries(), 0u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace blobsync::image
