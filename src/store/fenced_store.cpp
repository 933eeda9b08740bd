#include "store/fenced_store.h"

namespace blobsync {

namespace {

class FencedIngest final : public Ingest {
 public:
  FencedIngest(std::unique_ptr<Ingest> inner, std::shared_ptr<BlobFence> fence)
      : inner_(std::move(inner)), fence_(std::move(fence)) {}
  Result<> write(std::span<const std::byte> data) override { return inner_->write(data); }
  Result<std::span<std::byte>> acquire() override { return inner_->acquire(); }
  Result<> filled(std::size_t n) override { return inner_->filled(n); }
  Result<> write_from_fd(int fd, const std::function<void(std::uint64_t)>& progress) override {
    return inner_->write_from_fd(fd, progress);
  }
  Result<BlobRecord> finish() override {
    auto guard = fence_->shared();
    if (!guard) return std::unexpected(guard.error());
    return inner_->finish();
  }
  std::uint64_t bytes_written() const override { return inner_->bytes_written(); }
  std::string sniffed_mime() const override { return inner_->sniffed_mime(); }

 private:
  std::unique_ptr<Ingest> inner_;
  std::shared_ptr<BlobFence> fence_;
};

}  // namespace

Result<std::unique_ptr<Ingest>> FencedBlobStore::begin_put(const PutOptions& options) {
  auto ingest = inner_->begin_put(options);
  if (!ingest) return std::unexpected(ingest.error());
  return std::unique_ptr<Ingest>(new FencedIngest(std::move(*ingest), fence_));
}

Result<BlobRecord> FencedBlobStore::put_file(const std::filesystem::path& path, const PutOptions& options,
                                             const std::function<void(std::uint64_t)>& progress) {
  auto guard = fence_->shared();
  if (!guard) return std::unexpected(guard.error());
  return inner_->put_file(path, options, progress);
}

Result<BlobRecord> FencedBlobStore::put_bytes(std::span<const std::byte> data, const PutOptions& options) {
  auto guard = fence_->shared();
  if (!guard) return std::unexpected(guard.error());
  return inner_->put_bytes(data, options);
}

Result<> FencedBlobStore::remove(const Digest& hash) {
  auto guard = fence_->exclusive();
  if (!guard) return std::unexpected(guard.error());
  return inner_->remove(hash);
}

}  // namespace blobsync
