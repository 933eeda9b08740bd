// Helpers of the quarantine and scrubber tests: damaging a stored blob's
// file as a failing disk would, reading blobs back, waiting for a thread.
// Used from one test thread at a time.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "store/blob_store.h"
#include "store/disk_backend.h"

namespace blobsync::testing {

using namespace std::chrono_literals;


inline std::filesystem::path file_of(BlobStore& store, const Digest& d) {
  return dynamic_cast<DiskBackend&>(store.backend()).blob_path(d);
}

// Flips one bit at `at`, as a failing disk would.
inline void flip(const std::filesystem::path& path, std::uint64_t at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<long>(at));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<long>(at));
  f.put(static_cast<char>(c ^ 0x01));
}

inline std::vector<std::byte> file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(raw.size());
  std::memcpy(out.data(), raw.data(), raw.size());
  return out;
}

inline Result<std::vector<std::byte>> read_all(BlobStore& store, const Digest& d) {
  std::vector<std::byte> out;
  auto r = store.read_verified(d, [&](std::span<const std::byte> b) -> Result<> {
    out.insert(out.end(), b.begin(), b.end());
    return {};
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

template <typename F>
bool eventually(F cond, std::chrono::milliseconds within = 10s) {
  auto end = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

}  // namespace blobsync::testing
