// PartialBlob: a blob being downloaded chunk by chunk, kept on disk so a
// transfer interrupted by a dead holder, a broken connection or a restart
// resumes by asking only for the chunks still missing.
//
//   DIR/<hex>.part   the blob's bytes at their final offsets (sparse until done)
//   DIR/<hex>.meta   size, MIME type, chunk hashes, and which chunks are present
//
// A chunk is marked present only after its bytes matched its chunk hash and
// were written; the .meta file is rewritten atomically (temp + rename) after
// the data file was synced, so after a crash a chunk marked present really is
// on disk. The whole-blob hash is checked when the blob is finally ingested
// into the local BlobStore (the one place digests are verified).
//
// Thread safety: one thread at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "client/blob_sink.h"
#include "core/digest.h"
#include "core/error.h"
#include "protocol/blob_messages.h"

namespace blobsync::client {

class PartialBlob final : public BlobSink {
 public:
  // Opens the partial download of `hash` in `dir`, creating an empty one
  // (size unknown until adopt_meta) if there is none. A damaged .meta file
  // is discarded (the download starts over).
  static Result<PartialBlob> open(const std::filesystem::path& dir, const Digest& hash);

  PartialBlob(PartialBlob&&) noexcept = default;
  PartialBlob& operator=(PartialBlob&&) noexcept = default;
  ~PartialBlob() override;

  const Digest& hash() const override { return hash_; }
  bool has_meta() const { return has_meta_; }
  std::uint64_t size() const override { return size_; }
  std::uint64_t chunk_count() const { return chunk_hashes_.size(); }
  const std::string& mime_type() const { return mime_; }
  const std::vector<Digest>& chunk_hashes() const { return chunk_hashes_; }
  bool complete() const override { return has_meta_ && present_count_ == chunk_hashes_.size(); }
  std::uint64_t present_count() const { return present_count_; }
  // Chunks 0..n-1 are present and chunk n is not (n = chunk_count() if complete).
  std::uint64_t present_prefix() const;
  std::uint64_t bytes_present() const override;

  // Chunks written between automatic checkpoints (fdatasync + .meta); 0:
  // only explicit checkpoint() calls (and the destructor) sync.
  void set_checkpoint_every(std::uint64_t chunks) { checkpoint_every_ = chunks; }

  // The chunk ranges still missing (every chunk while the size is unknown:
  // an empty list, meaning "all", in a REQUEST).
  std::vector<protocol::ChunkRange> missing_ranges() const override;

  // Takes the holder's META for a REQUEST of `wanted` ranges (empty = all).
  // The first META fixes size, type and chunk hashes; a later one (another
  // holder, a resumed transfer) must agree with them, else kCorruption and
  // the caller should try another holder. Returns the chunk indices in the
  // order the holder will send them.
  Result<std::vector<std::uint64_t>> adopt_meta(const protocol::MetaMsg& meta,
                                                const std::vector<protocol::ChunkRange>& wanted) override;

  // Verifies a chunk against its chunk hash and writes it. Errors:
  // kCorruption (hash mismatch: nothing written), kInvalidArgument (index out
  // of range or wrong length), I/O errors.
  Result<> write_chunk(std::uint64_t index, std::span<const std::uint8_t> data) override;
  // write_chunk() for a chunk already checked against its hash by the caller.
  Result<> write_verified_chunk(std::uint64_t index, std::span<const std::uint8_t> data);

  // Makes the present-chunk map durable (every checkpoint_every chunks and at the end).
  Result<> checkpoint() override;

  // The data file's descriptor (for reading a present prefix back).
  int fd() const { return fd_.get(); }

  // The data file, for ingesting into the store once complete().
  const std::filesystem::path& data_path() const { return data_path_; }

  // Removes both files (after successful ingest, or to start over).
  void discard();

 private:
  // The data file's descriptor: closed with its owner, moved with it (so the
  // moves above are the members' own).
  class Fd {
   public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
      if (this != &o) {
        reset();
        fd_ = std::exchange(o.fd_, -1);
      }
      return *this;
    }
    ~Fd() { reset(); }
    int get() const { return fd_; }
    void reset();  // closes it, if open

   private:
    int fd_ = -1;
  };

  PartialBlob() = default;
  Result<> write_meta();
  Result<> load_meta();

  std::filesystem::path dir_, data_path_, meta_path_;
  Digest hash_;
  bool has_meta_ = false;
  std::uint64_t size_ = 0;
  std::string mime_;
  std::vector<Digest> chunk_hashes_;
  std::vector<bool> present_;
  std::uint64_t present_count_ = 0;
  std::uint64_t unsynced_ = 0;
  std::uint64_t checkpoint_every_ = 16;
  Fd fd_;
};

}  // namespace blobsync::client
