// BlobSink: where a DownloadSession puts a blob's verified chunks. Two
// implementations: PartialBlob (chunks at their offsets in a resumable file,
// ingested into the store afterwards) and StreamingDownload (in-order chunks
// straight into a BlobStore ingest, one pass over the bytes).
//
// Thread safety: one thread at a time.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "protocol/blob_messages.h"

namespace blobsync::client {

class BlobSink {
 public:
  virtual ~BlobSink() = default;

  virtual const Digest& hash() const = 0;
  // 0 until the first META is adopted.
  virtual std::uint64_t size() const = 0;
  virtual std::uint64_t bytes_present() const = 0;
  virtual bool complete() const = 0;

  // The chunk ranges to REQUEST: empty (meaning "all") before the first META.
  virtual std::vector<protocol::ChunkRange> missing_ranges() const = 0;

  // Takes the holder's META for a REQUEST of `wanted` (empty = all). The first
  // META fixes size, type and chunk hashes; a later one (another holder, a
  // resumed transfer) must agree, else kCorruption (try another holder).
  // Returns the chunk indices in the order the holder will send them.
  virtual Result<std::vector<std::uint64_t>> adopt_meta(const protocol::MetaMsg& meta,
                                                        const std::vector<protocol::ChunkRange>& wanted) = 0;

  // Verifies a chunk against its chunk hash and keeps it. Errors:
  // kCorruption (hash mismatch: nothing kept), kInvalidArgument (index or
  // length wrong), I/O errors.
  virtual Result<> write_chunk(std::uint64_t index, std::span<const std::uint8_t> data) = 0;

  // Makes what was received so far durable enough to resume (end of a
  // transfer, a broken connection).
  virtual Result<> checkpoint() = 0;
};

// Shared by the sinks' adopt_meta(): checks a META against the REQUEST's
// `wanted` ranges (chunk count matches the size, covers the ranges, one
// hash per requested chunk; else kCorruption) and returns the chunk indices
// in sending order.
Result<std::vector<std::uint64_t>> meta_chunk_order(const protocol::MetaMsg& meta,
                                                    const std::vector<protocol::ChunkRange>& wanted);

// Shared by the sinks' adopt_meta(): a later META (another holder, a resumed
// transfer) must agree with the size and chunk hashes fixed by the first one.
// `order` is what meta_chunk_order returned. Errors: kCorruption.
Result<> meta_agrees(const protocol::MetaMsg& meta, const std::vector<std::uint64_t>& order, std::uint64_t size,
                     const std::vector<Digest>& chunk_hashes);

}  // namespace blobsync::client
