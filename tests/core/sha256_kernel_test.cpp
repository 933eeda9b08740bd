// The SHA-NI kernel's two-lane compression against two one-lane ones.
#include "core/sha256_kernel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace blobsync {
namespace {

TEST(Sha256Kernel, Compress2EqualsTwoCompresses) {
  if (!sha256_kernel::available()) GTEST_SKIP() << "no SHA-NI on this CPU";
  std::mt19937 rng(6);
  std::vector<std::byte> data(64 * 37);
  for (auto& byte : data) byte = static_cast<std::byte>(rng());
  std::uint32_t a[8], b[8], ref[8];
  for (int i = 0; i < 8; ++i) {
    a[i] = sha256_kernel::kInitialState[i];
    b[i] = 0x01010101u * static_cast<std::uint32_t>(i + 1);  // any state, not only the IV
    ref[i] = b[i];
  }
  std::uint32_t ref_a[8];
  std::copy(a, a + 8, ref_a);
  sha256_kernel::compress(ref_a, data.data(), 37);
  sha256_kernel::compress(ref, data.data(), 37);
  sha256_kernel::compress2(a, b, data.data(), 37);
  EXPECT_TRUE(std::equal(a, a + 8, ref_a));
  EXPECT_TRUE(std::equal(b, b + 8, ref));
}

}  // namespace
}  // namespace blobsync
