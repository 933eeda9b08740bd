// verify_blobs: BlobStore::verify, a merge-join of the index and the backend,
// both in digest order, re-hashing every blob chunk by chunk; blobs that fail
// are quarantined and quarantined ones that pass are released.
#include "store/blob_verify.h"

#include <mutex>
#include <optional>
#include <vector>

#include "core/blob_hasher.h"
#include "core/blob_id.h"
#include "core/chunking.h"
#include "store/hash_pipeline.h"
#include "store/paged_walk.h"

namespace blobsync {

Result<VerifyReport> verify_blobs(MetadataStore& metadata, BlobBackend& backend,
                                  const std::function<std::mutex&(const Digest&)>& digest_lock,
                                  const std::function<Result<>(const Digest&, std::string_view)>& set_quarantine,
                                  const std::function<void(const Digest&)>& on_blob) {
  constexpr std::size_t kPage = 1000;
  VerifyReport report;
  PagedWalk<BlobRecord> rows(
      [&](std::optional<Digest> after, std::size_t limit) { return metadata.list_blobs(after, limit); },
      [](const BlobRecord& r) { return r.hash; }, kPage);
  PagedWalk<BackendStat> files(
      [&](std::optional<Digest> after, std::size_t limit) { return backend.enumerate(after, limit); },
      [](const BackendStat& s) { return s.digest; }, kPage);
  std::vector<std::byte> buf(HashPipeline::kSlotSize);

  auto check_blob = [&](const Digest& hash) -> Result<> {
    auto rec = metadata.get_blob(hash);
    if (!rec) return std::unexpected(rec.error());
    if (!*rec) return {};  // removed meanwhile
    const BlobRecord& r = **rec;
    ++report.checked;
    auto reader = backend.open(hash);
    if (!reader) {
      if (reader.error().code == Errc::kNotFound) {
        report.problems.push_back({hash, "missing"});
        return {};
      }
      return std::unexpected(reader.error());
    }
    if ((*reader)->remaining() != r.size) {
      report.problems.push_back(
          {hash, fmt::format("size mismatch: {} bytes on disk, {} indexed", (*reader)->remaining(), r.size)});
      return {};
    }
    // Chunk by chunk: each chunk's digest and the whole blob's in one pass.
    BlobHasher whole;
    std::uint64_t pos = 0;
    std::optional<std::uint64_t> bad_chunk;
    for (std::uint64_t idx = 0; pos < r.size; ++idx) {
      std::size_t len = static_cast<std::size_t>(chunk_length(idx, r.size));
      std::size_t got = 0;
      while (got < len) {
        auto n = (*reader)->read(std::span(buf.data() + got, len - got));
        if (!n) {
          report.problems.push_back({hash, fmt::format("read error: {}", n.error().message)});
          return {};
        }
        if (*n == 0) break;
        got += *n;
      }
      if (got < len) {
        pos += got;
        break;
      }
      Digest d = whole.update_with_chunk(std::span<const std::byte>(buf.data(), len));
      if (!bad_chunk && (idx >= r.chunk_hashes.size() || d != r.chunk_hashes[idx])) bad_chunk = idx;
      pos += len;
      report.bytes += len;
    }
    if (pos != r.size) {
      report.problems.push_back({hash, "size mismatch: file shrank while reading"});
      return {};
    }
    if (bad_chunk) report.problems.push_back({hash, fmt::format("chunk {} hash mismatch", *bad_chunk)});
    if (whole.finish() != hash) report.problems.push_back({hash, "content hash mismatch"});
    return {};
  };

  // A blob that failed is quarantined (its first problem is the reason); a
  // quarantined one that passed is released.
  auto settle = [&](const BlobRecord& row, std::size_t first) -> Result<> {
    bool failed = report.problems.size() > first;
    if (!failed && row.quarantine.empty()) return {};
    auto r = set_quarantine(row.hash, failed ? std::string_view(report.problems[first].what) : "");
    if (!r) return r.error().code == Errc::kNotFound ? Result<>() : r;  // removed meanwhile
    for (auto i = first; i < report.problems.size(); ++i) report.problems[i].quarantined = true;
    if (!failed) report.released.push_back(row.hash);
    return {};
  };

  for (;;) {
    auto row = rows.peek();
    if (!row) return std::unexpected(row.error());
    auto file = files.peek();
    if (!file) return std::unexpected(file.error());
    if (!*row && !*file) break;
    if (*row && (!*file || (*row)->hash <= (*file)->digest)) {
      const Digest h = (*row)->hash;
      if (on_blob) on_blob(h);
      std::size_t first = report.problems.size();
      if (auto r = check_blob(h); !r) return std::unexpected(r.error());
      if (auto r = settle(**row, first); !r) return std::unexpected(r.error());
      if (*file && (*file)->digest == h) files.advance();
      rows.advance();
    } else {
      const Digest h = (*file)->digest;
      // Bytes without a row: re-check under the digest's lock (a put may be
      // between its commit and its insert).
      std::lock_guard g(digest_lock(h));
      auto rec = metadata.get_blob(h);
      if (!rec) return std::unexpected(rec.error());
      if (!*rec) report.problems.push_back({h, "not indexed"});
      files.advance();
    }
  }
  return report;
}

}  // namespace blobsync
