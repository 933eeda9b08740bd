// Peak memory of a 2 GiB put: the ingest streams through a fixed ring of
// buffers, so the process's peak RSS (VmHWM) stays under 64 MiB whatever the
// blob size. The input is a sparse 2 GiB file (no disk space until the store
// writes its copy); both are deleted afterwards. Prints the figures.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include "store/blob_store.h"
#include "test_util.h"

namespace blobsync {
namespace {

std::uint64_t vm_hwm_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

TEST(PutMemory, TwoGiBPutStaysUnder64MiB) {
  constexpr std::uint64_t kSize = 2ull << 30;
  testing::TempDir tmp;
  auto input = tmp.path() / "sparse-2GiB.bin";
  {
    int fd = ::open(input.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    // A few real bytes so the content is not all zeros.
    const char marker[] = "blobsync put_memory_test";
    for (std::uint64_t off = 0; off < kSize; off += 256ull << 20) ASSERT_EQ(::pwrite(fd, marker, sizeof marker, static_cast<off_t>(off)), static_cast<ssize_t>(sizeof marker));
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(kSize)), 0);
    ::close(fd);
  }
  StoreOptions o;
  o.data_dir = tmp.path() / "data";
  auto store = BlobStore::open(o);
  ASSERT_TRUE(store) << store.error().to_string();
  std::uint64_t before = vm_hwm_kib();
  auto t0 = std::chrono::steady_clock::now();
  auto rec = (*store)->put_file(input, {});
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(rec) << rec.error().to_string();
  EXPECT_EQ(rec->size, kSize);
  EXPECT_EQ(rec->chunk_count, kSize / (256 * 1024));
  std::uint64_t peak = vm_hwm_kib();
  std::printf("put_memory: 2 GiB put in %.2f s (%.0f MB/s); peak RSS (VmHWM) %.1f MiB (%.1f MiB before the put)\n",
              secs, static_cast<double>(kSize) / secs / 1e6, static_cast<double>(peak) / 1024.0,
              static_cast<double>(before) / 1024.0);
  EXPECT_GT(peak, 0u);
  EXPECT_LT(peak, 64u * 1024) << "peak RSS " << peak << " KiB";
  // Release the 2 GiB copy early.
  ASSERT_TRUE((*store)->remove(rec->hash));
}

}  // namespace
}  // namespace blobsync
