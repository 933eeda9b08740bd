#include "store/hot_blobs.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/blob_id.h"

namespace blobsync {

namespace {

// A range of a cached file. Positions are its own (pread, and sendfile with
// an offset), so any number of readers share one descriptor.
class SharedFileReader final : public BlobReader {
 public:
  SharedFileReader(std::shared_ptr<BlobReader> file, std::uint64_t offset, std::uint64_t end)
      : file_(std::move(file)), fd_(file_->native_fd()), offset_(offset), end_(end) {}

  Result<std::size_t> read(std::span<std::byte> buf) override {
    std::uint64_t want = std::min<std::uint64_t>(buf.size(), end_ - offset_);
    if (want == 0) return 0;
    ssize_t n;
    do n = ::pread(fd_, buf.data(), static_cast<std::size_t>(want), static_cast<off_t>(offset_));
    while (n < 0 && errno == EINTR);
    if (n < 0) return std::unexpected(errno_error(errno, "read of a blob"));
    if (n == 0) return fail(Errc::kCorruption, "blob file shorter than expected (at offset {})", offset_);
    offset_ += static_cast<std::uint64_t>(n);
    return static_cast<std::size_t>(n);
  }
  std::uint64_t remaining() const override { return end_ - offset_; }
  int native_fd() const override { return fd_; }
  std::uint64_t native_offset() const override { return offset_; }
  void advance(std::uint64_t n) override { offset_ += std::min(n, end_ - offset_); }

 private:
  std::shared_ptr<BlobReader> file_;  // keeps the descriptor open
  int fd_;
  std::uint64_t offset_;
  std::uint64_t end_;
};

}  // namespace

HotBlobs::HotBlobs(std::size_t capacity) : per_shard_(std::max<std::size_t>(1, capacity / kShards)) {}

Result<std::shared_ptr<const ServedBlob>> HotBlobs::lookup(const Digest& hash, MetadataStore& metadata,
                                                           BlobBackend& backend) {
  // The stamp is read before the row: a commit after it changes the stamp,
  // so the entry made from this row is not used past that commit.
  std::optional<ChangeStamp> now = metadata.change_stamp();
  std::shared_ptr<const ServedBlob> stale;
  if (now) {
    Shard& s = shard(hash);
    std::lock_guard g(s.mu);
    for (auto& e : s.entries) {
      if (e.hash != hash) continue;
      if (e.stamp == *now) {
        e.last_use = tick_.fetch_add(1, std::memory_order_relaxed);
        return e.blob;
      }
      stale = e.blob;
      break;
    }
  }
  auto row = metadata.get_blob(hash);
  if (!row) return std::unexpected(row.error());
  bool cacheable = now && *row && (*row)->state == BlobState::kPermanent && (*row)->quarantine.empty();
  if (!*row || (*row)->state == BlobState::kDeleting) {
    if (stale) store(hash, nullptr, *now);  // drops it
    return fail(Errc::kNotFound, "blob {} is not stored", to_hash_ref(hash));
  }
  auto blob = std::make_shared<ServedBlob>();
  blob->record = std::move(**row);
  blob->record.chunk_hashes.clear();
  blob->record.chunk_hashes.shrink_to_fit();
  if (!cacheable) {
    if (stale) store(hash, nullptr, *now);
    return std::shared_ptr<const ServedBlob>(std::move(blob));
  }
  // Opened afresh even when the row looks the same as a stale entry's: a
  // quarantine and a heal between two lookups leave the row as it was but
  // put new bytes (a new file) under the name. A file that cannot be opened
  // (gone, an error) is reported by the caller's own open, as without the cache.
  auto file = backend.open_sized(hash, blob->record.size, 0, kToEnd);
  if (!file || (*file)->native_fd() < 0) {
    if (stale) store(hash, nullptr, *now);
    return std::shared_ptr<const ServedBlob>(std::move(blob));
  }
  blob->file_size = (*file)->remaining();
  blob->file = std::shared_ptr<BlobReader>(std::move(*file));
  std::shared_ptr<const ServedBlob> out = std::move(blob);
  store(hash, out, *now);
  return out;
}

void HotBlobs::store(const Digest& hash, std::shared_ptr<const ServedBlob> blob, const ChangeStamp& stamp) {
  Shard& s = shard(hash);
  std::shared_ptr<const ServedBlob> dropped;  // closed outside the lock
  std::lock_guard g(s.mu);
  auto it = std::find_if(s.entries.begin(), s.entries.end(), [&](const Entry& e) { return e.hash == hash; });
  if (!blob) {
    if (it != s.entries.end()) {
      dropped = std::move(it->blob);
      s.entries.erase(it);
    }
    return;
  }
  std::uint64_t use = tick_.fetch_add(1, std::memory_order_relaxed);
  if (it != s.entries.end()) {
    dropped = std::exchange(it->blob, std::move(blob));
    it->stamp = stamp;
    it->last_use = use;
    return;
  }
  if (s.entries.size() >= per_shard_) {
    auto lru = std::min_element(s.entries.begin(), s.entries.end(),
                                [](const Entry& a, const Entry& b) { return a.last_use < b.last_use; });
    dropped = std::move(lru->blob);
    s.entries.erase(lru);
  }
  s.entries.push_back(Entry{hash, std::move(blob), stamp, use});
}

Result<std::unique_ptr<BlobReader>> HotBlobs::open_range(const ServedBlob& blob, std::uint64_t offset,
                                                         std::uint64_t length) {
  if (offset > blob.file_size)
    return fail(Errc::kInvalidArgument, "offset {} is past the end of blob {} ({} bytes)", offset,
                to_hash_ref(blob.record.hash), blob.file_size);
  std::uint64_t end = offset + std::min(length, blob.file_size - offset);
  return std::unique_ptr<BlobReader>(new SharedFileReader(blob.file, offset, end));
}

std::size_t HotBlobs::size() {
  std::size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard g(s.mu);
    n += s.entries.size();
  }
  return n;
}

}  // namespace blobsync
