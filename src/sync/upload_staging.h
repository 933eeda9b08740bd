// UploadStaging: blob-channel uploads in progress, on disk, so an upload cut
// off half-way resumes with only the missing chunks.
//
//   DIR/<hex>.part   the blob's bytes, each chunk pwritten at its offset (sparse)
//   DIR/<hex>.meta   "BSSTAGE1" · size u64le · chunkCount u64le ·
//                    chunkCount declared chunk hashes · bitmap (bit i = chunk i
//                    written and matching its declared hash, LSB first)
//
// A chunk's bit is set only after its bytes were written. After a power loss
// a bit may outlive its bytes; the final whole-blob check catches that and
// StagedUpload::reverify() then clears the bad chunks so they are asked for
// again. Staging that nobody touched for `expiry` is deleted by sweep().
//
// Staging bytes are capped (max_staging_bytes): an upload in progress counts
// its declared size, staging kept for a resume the bytes it holds; a claim
// that would go over the cap is refused (kFull).
//
// Thread safety: UploadStaging is safe from any thread. A StagedUpload may
// take write_chunk() calls for distinct chunks from several threads at once;
// its other methods are used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "protocol/blob_messages.h"

namespace blobsync::sync {

class StagedUpload {
 public:
  ~StagedUpload();
  StagedUpload(const StagedUpload&) = delete;
  StagedUpload& operator=(const StagedUpload&) = delete;

  const Digest& hash() const { return hash_; }
  std::uint64_t size() const { return size_; }
  std::uint64_t chunk_count() const { return hashes_.size(); }
  const Digest& chunk_hash(std::uint64_t i) const { return hashes_[i]; }
  bool has(std::uint64_t index) const;
  std::uint64_t missing_count() const;
  std::vector<protocol::ChunkRange> missing() const;

  // Checks data against the declared hash of chunk `index`, writes it at its
  // offset and marks it present. Errors: kCorruption on a hash mismatch
  // (nothing written), kInvalidArgument for a wrong length, kIOError/kNoSpace.
  Result<> write_chunk(std::uint64_t index, std::span<const std::uint8_t> data);
  // fdatasync of both files.
  Result<> sync();
  // Reads [offset, offset + buf.size()) of the staged bytes.
  Result<> read(std::uint64_t offset, std::span<std::uint8_t> buf) const;
  // Re-hashes every present chunk; clears and counts those that do not match.
  Result<std::uint64_t> reverify();

 private:
  friend class UploadStaging;
  StagedUpload() = default;
  class UploadStaging* owner_ = nullptr;  // told of written bytes
  Result<> set_bit(std::uint64_t index, bool value);

  Digest hash_;
  std::uint64_t size_ = 0;
  std::vector<Digest> hashes_;
  int part_fd_ = -1, meta_fd_ = -1;
  std::uint64_t bitmap_offset_ = 0;
  mutable std::mutex mu_;
  std::vector<std::uint8_t> bitmap_;  // guarded by mu_
};

class UploadStaging {
 public:
  UploadStaging(std::filesystem::path dir, std::chrono::seconds expiry, std::uint64_t max_bytes = UINT64_MAX);

  // Creates the directory, sweeps expired staging and counts what is left.
  Result<> init();

  // One upload per blob at a time (kBusy if another holds it), within the
  // byte cap counting `size` for this one (kFull).
  enum class Claim { kOk, kBusy, kFull };
  Claim claim(const Digest& hash, std::uint64_t size);
  bool claim(const Digest& hash) { return claim(hash, 0) == Claim::kOk; }
  void unclaim(const Digest& hash);
  std::size_t claimed() const;
  // Bytes counted against the cap.
  std::uint64_t staged_bytes() const;

  // Opens the staging of a blob, keeping the chunks already received when
  // size and chunk hashes match, else starting afresh. REQUIRES: claimed.
  Result<std::unique_ptr<StagedUpload>> open(const Digest& hash, std::uint64_t size,
                                             const std::vector<Digest>& chunk_hashes);
  void remove(const Digest& hash);
  // Deletes unclaimed staging older than the expiry; returns blobs removed.
  std::size_t sweep();
  // sweep() if the last one is older than 10 minutes.
  void maybe_sweep();

  const std::filesystem::path& dir() const { return dir_; }

 private:
  friend class StagedUpload;
  // Byte accounting (all take mu_): chunk bytes written; a blob's staging
  // (re)opened holding `written` bytes; its files gone.
  void wrote(const Digest& hash, std::uint64_t bytes);
  void restaged(const Digest& hash, std::uint64_t written);
  void forget(const Digest& hash);
  struct Bytes {
    std::uint64_t declared = 0, written = 0;
    bool active = false;  // claimed: counts `declared`, else `written`
  };

  std::filesystem::path dir_;
  std::chrono::seconds expiry_;
  std::uint64_t max_bytes_;
  mutable std::mutex mu_;
  std::set<Digest> claimed_;                              // guarded by mu_
  std::map<Digest, Bytes> bytes_;                         // guarded by mu_
  std::uint64_t total_ = 0;                               // guarded by mu_
  std::chrono::steady_clock::time_point last_sweep_{};    // guarded by mu_
};

}  // namespace blobsync::sync
