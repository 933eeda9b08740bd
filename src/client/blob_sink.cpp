#include "client/blob_sink.h"

#include "core/chunking.h"

namespace blobsync::client {

Result<std::vector<std::uint64_t>> meta_chunk_order(const protocol::MetaMsg& meta,
                                                    const std::vector<protocol::ChunkRange>& wanted) {
  if (meta.chunk_count != blobsync::chunk_count(meta.size))
    return fail(Errc::kCorruption, "holder sent a chunk count that does not match the size");
  std::vector<std::uint64_t> order;
  if (wanted.empty()) {
    for (std::uint64_t i = 0; i < meta.chunk_count; ++i) order.push_back(i);
  } else {
    auto covered = protocol::check_ranges(wanted, meta.chunk_count);
    if (!covered) return fail(Errc::kCorruption, "holder's blob has {} chunks, fewer than requested", meta.chunk_count);
    for (const auto& r : wanted)
      for (std::uint64_t i = r.first; i < r.first + r.count; ++i) order.push_back(i);
  }
  if (meta.chunk_hashes.size() != order.size())
    return fail(Errc::kCorruption, "holder sent {} chunk hashes for {} requested chunks", meta.chunk_hashes.size(),
                order.size());
  return order;
}

Result<> meta_agrees(const protocol::MetaMsg& meta, const std::vector<std::uint64_t>& order, std::uint64_t size,
                     const std::vector<Digest>& chunk_hashes) {
  if (meta.size != size) return fail(Errc::kCorruption, "holder disagrees about the blob size ({} vs {})", meta.size, size);
  for (std::size_t k = 0; k < order.size(); ++k)
    if (meta.chunk_hashes[k] != chunk_hashes[order[k]])
      return fail(Errc::kCorruption, "holder disagrees about the hash of chunk {}", order[k]);
  return {};
}

}  // namespace blobsync::client
