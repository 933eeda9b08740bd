// FencedBlobStore: a BlobStore that takes the BlobFence (blob_fence.h)
// around every commit and removal of the store it wraps, so stores opened
// by different processes on one metadata database never delete a blob that
// another is committing at that moment.
//
//   finish() of an Ingest, put_file, put_bytes   fence shared
//   remove                                       fence exclusive
// Everything else is forwarded unchanged.
//
// Thread safety: as BlobStore (safe for concurrent use).
#pragma once

#include <memory>

#include "store/blob_store.h"
#include "store/blob_fence.h"

namespace blobsync {

class FencedBlobStore final : public BlobStore {
 public:
  FencedBlobStore(std::unique_ptr<BlobStore> inner, std::shared_ptr<BlobFence> fence)
      : inner_(std::move(inner)), fence_(std::move(fence)) {}

  Result<std::unique_ptr<Ingest>> begin_put(const PutOptions& options) override;
  Result<BlobRecord> put_file(const std::filesystem::path& path, const PutOptions& options,
                              const std::function<void(std::uint64_t)>& progress = {}) override;
  Result<BlobRecord> put_bytes(std::span<const std::byte> data, const PutOptions& options) override;
  Result<BlobRecord> stat(const Digest& hash) override { return inner_->stat(hash); }
  Result<std::shared_ptr<const ServedBlob>> stat_to_serve(const Digest& hash) override {
    return inner_->stat_to_serve(hash);
  }
  Result<std::unique_ptr<BlobReader>> open_to_serve(const ServedBlob& blob, std::uint64_t offset,
                                                    std::uint64_t length) override {
    return inner_->open_to_serve(blob, offset, length);
  }
  Result<bool> contains(const Digest& hash) override { return inner_->contains(hash); }
  Result<std::unique_ptr<BlobReader>> open(const Digest& hash, std::uint64_t offset = 0,
                                           std::uint64_t length = kToEnd) override {
    return inner_->open(hash, offset, length);
  }
  Result<> read_verified(const Digest& hash,
                         const std::function<Result<>(std::span<const std::byte>)>& sink) override {
    return inner_->read_verified(hash, sink);
  }
  Result<> quarantine(const Digest& hash, std::string_view reason) override { return inner_->quarantine(hash, reason); }
  Result<> release_quarantine(const Digest& hash) override { return inner_->release_quarantine(hash); }
  std::uint64_t quarantine_generation() const override { return inner_->quarantine_generation(); }
  Result<> remove(const Digest& hash) override;
  Result<> set_state(const Digest& hash, BlobState state) override { return inner_->set_state(hash, state); }
  Result<std::vector<BlobRecord>> list(std::optional<Digest> after, std::size_t limit) override {
    return inner_->list(after, limit);
  }
  Result<MetadataStats> stats() override { return inner_->stats(); }
  Result<VerifyReport> verify(const std::function<void(const Digest&)>& on_blob = {}) override {
    return inner_->verify(on_blob);
  }
  BlobBackend& backend() override { return inner_->backend(); }
  MetadataStore& metadata() override { return inner_->metadata(); }

  // The wrapped store, for callers that hold the fence themselves (taking it
  // twice on one thread could wait on a queued exclusive holder forever).
  BlobStore& unfenced() { return *inner_; }
  BlobFence& fence() { return *fence_; }

 private:
  std::unique_ptr<BlobStore> inner_;
  std::shared_ptr<BlobFence> fence_;
};

}  // namespace blobsync
