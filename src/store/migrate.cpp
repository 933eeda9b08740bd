#include "store/migrate.h"

#include <optional>

#include "core/blob_id.h"
#include "core/sha256.h"
#include "store/paged_walk.h"

namespace blobsync {

namespace {

// A digest-ordered cursor over one backend's enumerate() pages.
PagedWalk<BackendStat> walk(BlobBackend& backend) {
  return PagedWalk<BackendStat>(
      [&backend](std::optional<Digest> after, std::size_t limit) { return backend.enumerate(after, limit); },
      [](const BackendStat& s) { return s.digest; });
}

}  // namespace

Result<> copy_blob_verified(BlobBackend& from, BlobBackend& to, const BackendStat& blob, std::vector<std::byte>& buf) {
  auto reader = from.open_sized(blob.digest, blob.size);
  if (!reader) return std::unexpected(reader.error());
  auto writer = to.create_writer_sized(blob.digest, blob.size);
  if (!writer) return std::unexpected(writer.error());
  Sha256 hash;
  std::uint64_t size = 0;
  for (;;) {
    auto n = (*reader)->read(buf);
    if (!n) return std::unexpected(n.error());
    if (*n == 0) break;
    std::span<const std::byte> piece(buf.data(), *n);
    hash.update(piece);
    size += *n;
    if (auto r = (*writer)->append(piece); !r) return r;
  }
  Digest got = hash.finish();
  if (got != blob.digest || size != blob.size) {
    (*writer)->abort();
    return fail(Errc::kCorruption, "source bytes do not match: {} bytes hashing to {}", size, to_hash_ref(got));
  }
  return (*writer)->commit(blob.digest);
}

Result<MigrateProgress> migrate_blobs(BlobBackend& from, BlobBackend& to, const MigrateOptions& options) {
  MigrateProgress p;
  auto src = walk(from);
  auto dst = walk(to);
  std::optional<BackendStat> have;  // the destination's next blob not yet passed
  bool dst_done = false;
  std::vector<std::byte> buf(1 << 20);
  for (;;) {
    auto blob = src.next();
    if (!blob) return fail(blob.error().code, "listing the source: {}", blob.error().message);
    if (!*blob) break;
    ++p.blobs_seen;
    // Advance the destination up to this digest.
    while (!dst_done && (!have || have->digest < (*blob)->digest)) {
      auto d = dst.next();
      if (!d) return fail(d.error().code, "listing the destination: {}", d.error().message);
      have = *d;
      if (!have) dst_done = true;
    }
    if (have && have->digest == (*blob)->digest && have->size == (*blob)->size) {
      ++p.skipped;
      p.skipped_bytes += (*blob)->size;
    } else if (auto r = copy_blob_verified(from, to, **blob, buf); r) {
      ++p.copied;
      p.copied_bytes += (*blob)->size;
    } else if (r.error().code == Errc::kNotFound) {
      ++p.vanished;
    } else {
      p.failures.push_back({(*blob)->digest, r.error()});
    }
    if (options.on_progress) options.on_progress(p);
    if (options.stop_on_failure && !p.failures.empty()) break;
  }
  return p;
}

}  // namespace blobsync
