#include "store/blob_check.h"

#include <vector>

#include "core/blob_hasher.h"
#include "core/blob_id.h"
#include "core/chunking.h"

namespace blobsync {

namespace {

std::unexpected<Error> missing_bytes(const Digest& hash) {
  return fail(Errc::kCorruption, "blob {} is indexed but its bytes are missing", to_hash_ref(hash));
}

}  // namespace

std::optional<Error> unservable(const BlobRecord& record) {
  if (!record.quarantine.empty())
    return Error{Errc::kCorruption,
                 fmt::format("blob {} is quarantined: {}", to_hash_ref(record.hash), record.quarantine)};
  if (record.state == BlobState::kDeleting)
    return Error{Errc::kNotFound, fmt::format("blob {} is not stored", to_hash_ref(record.hash))};
  return std::nullopt;
}

Result<> read_checked(BlobBackend& backend, const BlobRecord& rec,
                      const std::function<Result<>(std::span<const std::byte>)>& sink) {
  const Digest& hash = rec.hash;
  if (rec.chunk_hashes.size() != rec.chunk_count)
    return fail(Errc::kInternal, "blob {}: record without its chunk hashes", to_hash_ref(hash));
  auto reader = backend.open_sized(hash, rec.size);
  if (!reader) {
    if (reader.error().code == Errc::kNotFound) return missing_bytes(hash);
    return std::unexpected(reader.error());
  }
  if ((*reader)->remaining() != rec.size)
    return fail(Errc::kCorruption, "blob {} has {} bytes on disk, {} expected", to_hash_ref(hash),
                (*reader)->remaining(), rec.size);
  std::vector<std::byte> buf(kChunkSize);
  BlobHasher whole;  // whole blob and each chunk in one pass
  for (std::uint64_t i = 0; i < rec.chunk_count; ++i) {
    std::size_t len = static_cast<std::size_t>(chunk_length(i, rec.size));
    std::size_t got = 0;
    while (got < len) {
      auto n = (*reader)->read(std::span(buf.data() + got, len - got));
      if (!n && n.error().code == Errc::kNotFound) return missing_bytes(hash);  // open_sized found out late
      if (!n) return std::unexpected(n.error());
      if (*n == 0) return fail(Errc::kCorruption, "blob {} is shorter than indexed", to_hash_ref(hash));
      got += *n;
    }
    if (whole.update_with_chunk(std::span<const std::byte>(buf.data(), len)) != rec.chunk_hashes[i])
      return fail(Errc::kCorruption, "blob {}: chunk {} hash mismatch", to_hash_ref(hash), i);
    if (auto r = sink(std::span<const std::byte>(buf.data(), len)); !r) return r;
  }
  if (whole.finish() != hash) return fail(Errc::kCorruption, "blob {}: content hash mismatch", to_hash_ref(hash));
  return {};
}

}  // namespace blobsync
