// Chunking: a blob is split into fixed 256 KiB logical ranges ("chunks").
//
// Chunk i covers bytes [i * kChunkSize, min((i + 1) * kChunkSize, size)).
// The SHA-256 of every chunk is computed at ingest and kept, so transfers can
// verify each chunk as it arrives and resume by asking for missing ones.
//
// The empty blob (size 0) has zero chunks and no chunk hashes; its identity is
// still the SHA-256 of the empty string (sha256:e3b0c442...). It is a valid
// blob like any other.
//
// Thread safety: constants and pure functions.
#pragma once

#include <cstdint>

namespace blobsync {

inline constexpr std::uint64_t kChunkSize = 256 * 1024;

constexpr std::uint64_t chunk_count(std::uint64_t size) { return (size + kChunkSize - 1) / kChunkSize; }

constexpr std::uint64_t chunk_offset(std::uint64_t index) { return index * kChunkSize; }

// REQUIRES: index < chunk_count(size).
constexpr std::uint64_t chunk_length(std::uint64_t index, std::uint64_t size) {
  std::uint64_t begin = chunk_offset(index);
  return size - begin < kChunkSize ? size - begin : kChunkSize;
}

}  // namespace blobsync
