// StreamingDownload: a blob downloaded straight into the local BlobStore.
// Chunks arrive in order; each is checked against its chunk hash and fed to
// a BlobStore Ingest (PutOptions::expected = the blob hash), so the bytes
// are written once and nothing unverified becomes visible. finish() commits.
//
// With StreamingOptions::store_checks_chunks the per-chunk check moves into
// the store's ingest (compared at finish()).
//
// Resuming: the object itself is the resume state within a process (a
// broken connection or a dead holder: ask the next holder for
// missing_ranges(), the chunks after the last one received). With
// `keep_partial` the chunks are also written to a PartialBlob in
// `partial_dir` (synced every `checkpoint_every` chunks and on checkpoint()),
// so another process can resume: open() feeds a partial's present prefix
// back into the ingest and carries on after it. A partial whose present
// chunks are not a prefix (an older layout) is read no further than its
// prefix.
//
// Thread safety: one thread at a time.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/blob_sink.h"
#include "store/metadata.h"

namespace blobsync {
class BlobStore;
class Ingest;
}  // namespace blobsync

namespace blobsync::client {

class PartialBlob;

struct StreamingOptions {
  std::filesystem::path partial_dir;  // where a PartialBlob may live
  bool keep_partial = true;           // also write a resumable PartialBlob
  std::uint64_t checkpoint_every = 64;  // chunks between syncs of the partial (0: only checkpoint())
  std::uint64_t max_size = UINT64_MAX;
  // The blob's hold in the store (PutOptions::hold): "pin:cli" for a device's
  // own copy. Empty: stored kTemporary, kept only by holds it already has
  // (a server replicating a room's blob: the room's entry holds it).
  std::string hold{};
  // Without a partial (keep_partial false and none to resume), leave the
  // chunk check to the store: chunks are not hashed on arrival; the ingest's
  // own chunk hashes are compared with the holder's at finish()
  // (PutOptions::expected_chunk_hashes), so every byte is hashed twice, not
  // three times. The price: a corrupt chunk is found at the end of the blob,
  // not on arrival, and the download then starts over (finish() fails with
  // kCorruption). With a partial, chunks are always checked on arrival (the
  // partial keeps only verified chunks).
  bool store_checks_chunks = false;
  // The holder is a blobsync server: when its META types the blob
  // application/octet-stream (its store's libmagic recognised nothing
  // specific), the ingest skips its own libmagic pass (PutOptions::sniff).
  // Any other type is sniffed again as usual.
  bool holder_typed_it = false;
};

class StreamingDownload final : public BlobSink {
 public:
  // Starts (or resumes from a PartialBlob) the download of `hash`.
  // REQUIRES: the store outlives the object.
  static Result<std::unique_ptr<StreamingDownload>> open(BlobStore& store, const Digest& hash,
                                                         StreamingOptions options);
  ~StreamingDownload() override;

  const Digest& hash() const override { return hash_; }
  std::uint64_t size() const override { return size_; }
  std::uint64_t bytes_present() const override;
  bool complete() const override { return has_meta_ && next_ == chunk_hashes_.size(); }
  const std::string& mime_type() const { return mime_; }
  std::vector<protocol::ChunkRange> missing_ranges() const override;
  Result<std::vector<std::uint64_t>> adopt_meta(const protocol::MetaMsg& meta,
                                                const std::vector<protocol::ChunkRange>& wanted) override;
  Result<> write_chunk(std::uint64_t index, std::span<const std::uint8_t> data) override;
  Result<> checkpoint() override;

  // REQUIRES: complete(). Verifies the blob hash and commits it to the store
  // (fdatasync, rename, metadata). Errors: kCorruption (the chunk hashes the
  // holders sent do not add up to the blob), store errors; after an error the
  // object is reset (partial removed) and the next download starts over.
  Result<BlobRecord> finish();

 private:
  StreamingDownload(BlobStore& store, const Digest& hash, StreamingOptions options);
  Result<> begin_ingest();
  Result<> resume_from_partial();
  void reset();

  BlobStore& store_;
  Digest hash_;
  StreamingOptions options_;
  std::unique_ptr<Ingest> ingest_;
  std::unique_ptr<PartialBlob> partial_;
  bool has_meta_ = false;
  std::uint64_t size_ = 0;
  std::string mime_;
  std::vector<Digest> chunk_hashes_;
  std::uint64_t next_ = 0;  // chunks 0..next_-1 are in the ingest
  bool store_checks_ = false;  // the ingest compares chunk hashes (no check on arrival)
};

}  // namespace blobsync::client
