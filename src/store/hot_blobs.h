// HotBlobs: the rows and open files of the blobs served lately, so that
// serving a hot blob again (GET /blobs/<hash>) reads no metadata and opens no
// file: on SQLite that was a read transaction with two fcntl locks, a query,
// then open/fstat/close, a third of the server's CPU for a 16 KiB GET
// (docs/performance.md, "16 KiB downloads").
//
// When an entry may be used: only while MetadataStore::change_stamp() equals
// the stamp read before its row was. The stamp changes with every commit of
// any process on the database (a quarantine by `blobsync verify`, a GC, a
// state change, and unrelated writes too), so whatever changed a row is seen
// by the next lookup; no writer has to remember to invalidate anything. A
// stale entry is read and opened again (not kept for a row that looks the
// same: a quarantine and a heal in between put new bytes under the name).
// Without a stamp (PostgreSQL: another server may change a row at any
// time, and asking costs a round trip) nothing is cached: every lookup
// reads the row and the caller opens the file.
//
// Only servable rows are cached (kPermanent, not quarantined) and only
// backends with local files (a native fd: the disk). An open file holds the
// bytes of the inode it opened; a blob whose bytes are removed or replaced
// changes its row first (removal and heal go through the metadata), which
// drops the entry.
//
// Thread safety: safe for concurrent use from any number of threads. A
// ServedBlob it returns is immutable and may outlive its entry (its file
// stays open until the last reader of it is gone).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "store/backend.h"
#include "store/blob_store.h"
#include "store/metadata.h"

namespace blobsync {

class HotBlobs {
 public:
  // At most `capacity` entries (each holds one file descriptor).
  explicit HotBlobs(std::size_t capacity = kDefaultCapacity);
  static constexpr std::size_t kDefaultCapacity = 256;

  // The blob's row (kNotFound if none or kDeleting, as BlobStore::stat),
  // from the cache when the stamp allows, else from `metadata` (and then
  // cached with a file from `backend` if servable).
  Result<std::shared_ptr<const ServedBlob>> lookup(const Digest& hash, MetadataStore& metadata,
                                                   BlobBackend& backend);

  // A reader of [offset, offset + length) of `blob`'s cached file (pread and
  // sendfile at absolute offsets, so readers share it). REQUIRES: blob.file.
  // Errors: kInvalidArgument if offset is past the end.
  static Result<std::unique_ptr<BlobReader>> open_range(const ServedBlob& blob, std::uint64_t offset,
                                                        std::uint64_t length);

  // Entries now (tests).
  std::size_t size();

 private:
  struct Entry {
    Digest hash;
    std::shared_ptr<const ServedBlob> blob;
    ChangeStamp stamp;
    std::uint64_t last_use = 0;
  };
  struct Shard {
    std::mutex mu;
    std::vector<Entry> entries;  // guarded by mu; at most per_shard_
  };
  static constexpr std::size_t kShards = 16;

  Shard& shard(const Digest& hash) { return shards_[hash.bytes[1] % kShards]; }
  void store(const Digest& hash, std::shared_ptr<const ServedBlob> blob, const ChangeStamp& stamp);

  std::size_t per_shard_;
  std::array<Shard, kShards> shards_;
  std::atomic<std::uint64_t> tick_{0};  // a clock for least-recently-used eviction
};

}  // namespace blobsync
