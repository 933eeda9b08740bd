// Helpers shared by the store tests: temporary directories and test data.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <unistd.h>

#include <memory>

#include "core/chunking.h"
#include "core/digest.h"
#include "core/sha256.h"
#include "store/blob_store.h"

namespace blobsync::testing {

// A temporary directory, removed with everything in it: under $TMPDIR if
// set, else /tmp, or with `prefer_shm` on tmpfs (/dev/shm) when writable (a
// BlobStore makes 256 fan-out directories, and removing them costs most of a
// second on some disks, ext4 mounted with discard, far more than the tests
// that use them).
class TempDir {
 public:
  explicit TempDir(bool prefer_shm = false) {
    const char* env = std::getenv("TMPDIR");
    std::string base = env && *env                                     ? env
                       : prefer_shm && ::access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                                                                       : "/tmp";
    std::string tmpl = base + "/blobsync-test-XXXXXX";
    if (!::mkdtemp(tmpl.data())) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    // Restore permissions a test may have removed, so cleanup works.
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::vector<std::byte> random_bytes(std::size_t n, std::uint64_t seed) {
  std::vector<std::byte> out(n);
  std::mt19937_64 rng(seed);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t v = rng();
    __builtin_memcpy(out.data() + i, &v, 8);
  }
  for (; i < n; ++i) out[i] = static_cast<std::byte>(rng());
  return out;
}

inline std::span<const std::byte> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

inline Digest sha(std::span<const std::byte> data) { return Sha256::of(data); }

// Every regular file under `dir` (recursively), relative paths.
inline std::vector<std::string> files_under(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec); !ec && it != std::filesystem::end(it);
       it.increment(ec)) {
    if (it->is_regular_file()) out.push_back(std::filesystem::relative(it->path(), dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A metadata row for `size` random bytes from `seed`, chunk hashes included.
inline BlobRecord make_record(std::size_t size, std::uint64_t seed, BlobState state = BlobState::kPermanent,
                              std::int64_t created_at_ms = 1000) {
  auto data = random_bytes(size, seed);
  BlobRecord r;
  r.hash = sha(data);
  r.size = size;
  r.mime_type = "application/octet-stream";
  r.chunk_count = chunk_count(size);
  for (std::uint64_t i = 0; i < r.chunk_count; ++i)
    r.chunk_hashes.push_back(sha(std::span<const std::byte>(data).subspan(chunk_offset(i), chunk_length(i, size))));
  r.created_at_ms = created_at_ms;
  r.state = state;
  return r;
}

// A store in `dir` with the default disk backend and SQLite metadata
// (nullptr, and a test failure, if it cannot be opened).
inline std::unique_ptr<BlobStore> open_store(const std::filesystem::path& dir) {
  StoreOptions o;
  o.data_dir = dir;
  auto s = BlobStore::open(o);
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().to_string());
  return s ? std::move(*s) : nullptr;
}

}  // namespace blobsync::testing
