#include "client/streaming_download.h"

#include <unistd.h>

#include <cerrno>

#include "client/partial_blob.h"
#include "core/chunking.h"
#include "core/sha256.h"
#include "store/blob_store.h"

namespace blobsync::client {

StreamingDownload::StreamingDownload(BlobStore& store, const Digest& hash, StreamingOptions options)
    : store_(store), hash_(hash), options_(std::move(options)) {}

StreamingDownload::~StreamingDownload() = default;  // the partial syncs itself on destruction

Result<std::unique_ptr<StreamingDownload>> StreamingDownload::open(BlobStore& store, const Digest& hash,
                                                                   StreamingOptions options) {
  std::unique_ptr<StreamingDownload> d(new StreamingDownload(store, hash, std::move(options)));
  std::error_code ec;
  bool partial_exists = std::filesystem::exists(d->options_.partial_dir / (hash.hex() + ".meta"), ec);
  if (d->options_.keep_partial || partial_exists) {
    auto p = PartialBlob::open(d->options_.partial_dir, hash);
    if (!p) return std::unexpected(p.error());
    d->partial_ = std::make_unique<PartialBlob>(std::move(*p));
    d->partial_->set_checkpoint_every(d->options_.checkpoint_every);
    if (auto r = d->resume_from_partial(); !r) return std::unexpected(r.error());
    // Without keep_partial an old partial is only read, never extended.
    if (!d->options_.keep_partial) {
      d->partial_->discard();
      d->partial_.reset();
    }
  }
  return d;
}

Result<> StreamingDownload::begin_ingest() {
  PutOptions put;
  put.expected = hash_;
  put.max_size = options_.max_size;
  put.declared_mime = mime_;
  put.sniff = !(options_.holder_typed_it && mime_ == "application/octet-stream");
  put.hold = options_.hold;
  put.state = options_.hold.empty() ? BlobState::kTemporary : BlobState::kPermanent;
  store_checks_ = !partial_ && options_.store_checks_chunks;
  if (store_checks_) put.expected_chunk_hashes = chunk_hashes_;
  auto ingest = store_.begin_put(put);
  if (!ingest) return std::unexpected(ingest.error());
  ingest_ = std::move(*ingest);
  return {};
}

// Adopts the partial's metadata and feeds its present prefix into the ingest (each chunk re-checked:
// the file may have been damaged since).
Result<> StreamingDownload::resume_from_partial() {
  if (!partial_->has_meta()) return {};
  has_meta_ = true;
  size_ = partial_->size();
  mime_ = partial_->mime_type();
  chunk_hashes_ = partial_->chunk_hashes();
  if (auto r = begin_ingest(); !r) return r;
  std::uint64_t prefix = partial_->present_prefix();
  std::vector<std::uint8_t> buf;
  for (std::uint64_t i = 0; i < prefix; ++i) {
    buf.resize(chunk_length(i, size_));
    std::size_t got = 0;
    while (got < buf.size()) {
      ssize_t n = ::pread(partial_->fd(), buf.data() + got, buf.size() - got, static_cast<off_t>(chunk_offset(i) + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    if (got != buf.size() || Sha256::of(buf.data(), buf.size()) != chunk_hashes_[i]) break;  // refetch from here
    if (auto r = ingest_->write(std::as_bytes(std::span(buf))); !r) return r;
    next_ = i + 1;
  }
  return {};
}

std::uint64_t StreamingDownload::bytes_present() const { return has_meta_ ? std::min(chunk_offset(next_), size_) : 0; }

std::vector<protocol::ChunkRange> StreamingDownload::missing_ranges() const {
  if (!has_meta_ || complete()) return {};
  return {protocol::ChunkRange{next_, chunk_hashes_.size() - next_}};
}

Result<std::vector<std::uint64_t>> StreamingDownload::adopt_meta(const protocol::MetaMsg& meta,
                                                                 const std::vector<protocol::ChunkRange>& wanted) {
  auto checked = meta_chunk_order(meta, wanted);
  if (!checked) return std::unexpected(checked.error());
  std::vector<std::uint64_t> order = std::move(*checked);
  if (!has_meta_) {
    if (!wanted.empty()) return fail(Errc::kInternal, "first request for a blob must ask for every chunk");
    if (meta.size > options_.max_size)
      return fail(Errc::kTooLarge, "blob of {} bytes is larger than the limit of {}", meta.size, options_.max_size);
    if (partial_)
      if (auto r = partial_->adopt_meta(meta, wanted); !r) return std::unexpected(r.error());
    size_ = meta.size;
    mime_ = meta.mime_type;
    chunk_hashes_ = meta.chunk_hashes;
    has_meta_ = true;
    // Begun here, not in open(): the holder's declared type goes to the store's MIME policy.
    if (auto r = begin_ingest(); !r) return std::unexpected(r.error());
    return order;
  }
  if (auto r = meta_agrees(meta, order, size_, chunk_hashes_); !r) return std::unexpected(r.error());
  return order;
}

Result<> StreamingDownload::write_chunk(std::uint64_t index, std::span<const std::uint8_t> data) {
  if (!has_meta_ || index >= chunk_hashes_.size())
    return fail(Errc::kInvalidArgument, "chunk {} is outside the blob", index);
  if (index != next_) return fail(Errc::kInvalidArgument, "chunk {} arrived where {} was due", index, next_);
  if (data.size() != chunk_length(index, size_))
    return fail(Errc::kInvalidArgument, "chunk {} has {} bytes, expected {}", index, data.size(),
                chunk_length(index, size_));
  // With store_checks_ the ingest compares its own chunk hashes with the list
  // begin_ingest() gave it, at finish().
  if (!store_checks_ && Sha256::of(data.data(), data.size()) != chunk_hashes_[index])
    return fail(Errc::kCorruption, "chunk {} does not match its hash", index);
  if (auto r = ingest_->write(std::as_bytes(data)); !r) return r;
  if (partial_)
    if (auto r = partial_->write_verified_chunk(index, data); !r) return r;
  ++next_;
  return {};
}

Result<> StreamingDownload::checkpoint() { return partial_ ? partial_->checkpoint() : Result<>{}; }

void StreamingDownload::reset() {
  if (partial_) {
    partial_->discard();
    if (auto fresh = PartialBlob::open(options_.partial_dir, hash_)) {
      *partial_ = std::move(*fresh);
      partial_->set_checkpoint_every(options_.checkpoint_every);
    } else {
      partial_.reset();
    }
  }
  has_meta_ = false;
  size_ = 0;
  mime_.clear();
  chunk_hashes_.clear();
  next_ = 0;
  ingest_.reset();
  store_checks_ = false;
}

Result<BlobRecord> StreamingDownload::finish() {
  if (!complete()) return fail(Errc::kInternal, "finish() before every chunk arrived");
  auto stored = ingest_->finish();
  if (!stored) {
    reset();  // the ingest is dead either way
    return stored;
  }
  if (partial_) {
    partial_->discard();
    partial_.reset();
  }
  return stored;
}

}  // namespace blobsync::client
