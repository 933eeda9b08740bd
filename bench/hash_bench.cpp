// hash_bench: what the ingest's hashing costs per byte, next to one OpenSSL
// SHA-256 pass over the same buffer in the same process.
//
//   hash_bench [--mib N] [--rounds R]
//
// Rows (single thread, buffer in cache-cold RAM, best of R, interleaved so
// load affects all alike): one EVP pass (the reference: what openssl dgst
// does), whole + 256 KiB chunk digests as two EVP passes, and the same two
// digests in one BlobHasher pass (SHA-NI, shared message schedule).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/blob_hasher.h"
#include "core/chunking.h"
#include "core/sha256.h"

namespace {

using namespace blobsync;

double seconds_of(auto&& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t mib = 256;
  int rounds = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--mib") mib = std::stoul(argv[i + 1]);
    else if (a == "--rounds") rounds = std::stoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: hash_bench [--mib N] [--rounds R]\n");
      return 2;
    }
  }
  std::vector<std::byte> data(mib << 20);
  std::mt19937_64 rng(1);
  for (std::size_t i = 0; i < data.size(); i += 8) {
    std::uint64_t v = rng();
    std::copy_n(reinterpret_cast<std::byte*>(&v), 8, data.data() + i);
  }
  std::span<const std::byte> all(data);
  Digest sink{};
  auto one_pass = [&] { sink = Sha256::of(all); };
  auto two_passes = [&] {
    Sha256 whole;
    for (std::uint64_t i = 0; i < chunk_count(all.size()); ++i) {
      auto chunk = all.subspan(chunk_offset(i), chunk_length(i, all.size()));
      whole.update(chunk);
      sink = Sha256::of(chunk);
    }
    sink = whole.finish();
  };
  BlobHasher hasher;
  auto joint = [&] {
    for (std::uint64_t i = 0; i < chunk_count(all.size()); ++i)
      sink = hasher.update_with_chunk(all.subspan(chunk_offset(i), chunk_length(i, all.size())));
    sink = hasher.finish();
  };
  auto kernel_one_pass = [&] {
    hasher.update(all);
    sink = hasher.finish();
  };
  double best1 = 1e9, best2 = 1e9, bestj = 1e9, bestk = 1e9;
  for (int r = 0; r < rounds; ++r) {
    best1 = std::min(best1, seconds_of(one_pass));
    best2 = std::min(best2, seconds_of(two_passes));
    bestj = std::min(bestj, seconds_of(joint));
    bestk = std::min(bestk, seconds_of(kernel_one_pass));
  }
  double bytes = static_cast<double>(all.size());
  std::printf("# hashing %zu MiB, one thread, best of %d; SHA-NI kernel %s\n", mib, rounds,
              hasher.uses_kernel() ? "in use" : "unavailable (OpenSSL fallback)");
  std::printf("openssl one pass (whole digest only): %.2f ns/B\n", best1 / bytes * 1e9);
  std::printf("openssl two passes (whole + chunks):  %.2f ns/B, %.2fx one pass\n", best2 / bytes * 1e9, best2 / best1);
  std::printf("BlobHasher one pass (whole only):     %.2f ns/B, %.2fx one pass\n", bestk / bytes * 1e9, bestk / best1);
  std::printf("BlobHasher (whole + chunks, joint):   %.2f ns/B, %.2fx one pass\n", bestj / bytes * 1e9, bestj / best1);
  std::printf("# last digest %s\n", sink.hex().c_str());  // keeps the work observable
  return 0;
}
