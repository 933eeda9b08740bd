// ImageCache: derived images on disk (DATA/image-cache/), bounded in bytes,
// least recently used out first, surviving restarts.
//
// An entry is one file, <dir>/<key[0:2]>/<key>, named by its cache key
// (image_params.h: 64 hex characters). put() writes a temporary file,
// fsyncs it and renames it into place, so a reader or a crash never sees a
// half-written image; open() deletes temporaries left by a crash and rebuilds
// the index from the files, oldest modification time first (a hit touches
// the file, so recency survives a restart).
//
// Thread safety: every method may be called from any thread; the index is
// guarded by one mutex held only for bookkeeping, never across file I/O
// other than an unlink of an evicted entry.
#pragma once

#include <cstdint>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.h"

namespace blobsync::image {

class ImageCache {
 public:
  // Creates `dir` if needed and indexes what is there; evicts down to
  // max_bytes at once (the bound may have shrunk). Errors: kIOError.
  static Result<std::unique_ptr<ImageCache>> open(std::filesystem::path dir, std::uint64_t max_bytes);

  // The bytes stored under `key` (now the most recently used), or nullopt.
  std::optional<std::string> get(const std::string& key);
  // Stores `bytes` under `key` and evicts the least recently used entries
  // until the cache is within its bound. An entry larger than the whole
  // bound is not stored (and that is not an error). Errors: kIOError,
  // kNoSpace (the cache stays consistent: nothing half-written is indexed).
  Result<> put(const std::string& key, std::string_view bytes);

  std::uint64_t bytes() const;
  std::size_t entries() const;
  std::uint64_t max_bytes() const { return max_bytes_; }

 private:
  ImageCache(std::filesystem::path dir, std::uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}
  std::filesystem::path path_of(const std::string& key) const;
  // Drops entries (index and file) from the LRU end until total_ <= target.
  // REQUIRES mu_ held.
  void evict_locked(std::uint64_t target);

  struct Entry {
    std::uint64_t size;
    std::list<std::string>::iterator lru;  // position in lru_ (front: most recent)
  };
  const std::filesystem::path dir_;
  const std::uint64_t max_bytes_;
  mutable std::mutex mu_;
  std::list<std::string> lru_;                       // guarded by mu_
  std::unordered_map<std::string, Entry> index_;     // guarded by mu_
  std::uint64_t total_ = 0;                          // guarded by mu_
  std::uint64_t tmp_seq_ = 0;                        // guarded by mu_
};

}  // namespace blobsync::image
