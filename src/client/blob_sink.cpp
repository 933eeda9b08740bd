#include "client/blob_sink.h"

#include "core/chunking.h"

namespace blobsync::client {

Result<std::vector<std::uint64_t>> meta_chunk_order(const sync::MetaMsg& meta,
                                                    const std::vector<sync::ChunkRange>& wanted) {
  if (meta.chunk_count != blobsync::chunk_count(meta.size))
    return fail(Errc::kCorruption, "holder sent a chunk count that does not match the size");
  std::vector<std::uint64_t> order;
  if (wanted.empty()) {
    for (std::uint64_t i = 0; i < meta.chunk_count; ++i) order.push_back(i);
  } else {
    auto covered = sync::check_ranges(wanted, meta.chunk_count);
    if (!covered) return fail(Errc::kCorruption, "holder's blob has {} chunks, fewer than requested", meta.chunk_count);
    for (const auto& r : wanted)
      for (std::uint64_t i = r.first; i < r.first + r.count; ++i) order.push_back(i);
  }
  if (meta.chunk_hashes.size() != order.size())
    return fail(Errc::kCorruption, "holder sent {} chunk hashes for {} requested chunks", meta.chunk_hashes.size(),
                order.size());
  return order;
}

}  // namespace blobsync::client
