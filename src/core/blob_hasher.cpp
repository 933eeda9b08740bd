#include "core/blob_hasher.h"

#include <algorithm>
#include <cstring>

namespace blobsync {

namespace {

// Pads `tail` (the bytes after the last full block, < 64) and finishes `state`
// for a message of `total` bytes (FIPS 180-4, 5.1.1).
Digest finish_state(std::uint32_t state[8], std::span<const std::byte> tail, std::uint64_t total) {
  std::byte last[128] = {};
  std::memcpy(last, tail.data(), tail.size());
  last[tail.size()] = std::byte{0x80};
  std::size_t len = tail.size() + 1 + 8 <= 64 ? 64 : 128;
  std::uint64_t bits = total * 8;
  for (int i = 0; i < 8; ++i) last[len - 1 - static_cast<std::size_t>(i)] = static_cast<std::byte>(bits >> (8 * i));
  sha256_kernel::compress(state, last, len / 64);
  Digest d;
  for (std::size_t i = 0; i < 8; ++i) {
    d.bytes[4 * i] = static_cast<std::uint8_t>(state[i] >> 24);
    d.bytes[4 * i + 1] = static_cast<std::uint8_t>(state[i] >> 16);
    d.bytes[4 * i + 2] = static_cast<std::uint8_t>(state[i] >> 8);
    d.bytes[4 * i + 3] = static_cast<std::uint8_t>(state[i]);
  }
  return d;
}

}  // namespace

BlobHasher::BlobHasher(bool use_kernel) {
  if (!use_kernel || !sha256_kernel::available()) evp_.emplace();
  reset();
}

void BlobHasher::reset() {
  std::copy(std::begin(sha256_kernel::kInitialState), std::end(sha256_kernel::kInitialState), state_);
  total_ = 0;
  partial_len_ = 0;
}

void BlobHasher::update(std::span<const std::byte> data) {
  if (evp_) {
    evp_->update(data);
    return;
  }
  total_ += data.size();
  if (partial_len_ > 0) {
    std::size_t take = std::min(data.size(), 64 - partial_len_);
    std::memcpy(partial_.data() + partial_len_, data.data(), take);
    partial_len_ += take;
    data = data.subspan(take);
    if (partial_len_ < 64) return;
    sha256_kernel::compress(state_, partial_.data(), 1);
    partial_len_ = 0;
  }
  std::size_t blocks = data.size() / 64;
  if (blocks) sha256_kernel::compress(state_, data.data(), blocks);
  data = data.subspan(blocks * 64);
  std::memcpy(partial_.data(), data.data(), data.size());
  partial_len_ = data.size();
}

Digest BlobHasher::update_with_chunk(std::span<const std::byte> chunk) {
  if (evp_ || partial_len_ != 0) {
    // Two passes: the OpenSSL path, or a stream not at a block boundary.
    update(chunk);
    return Sha256::of(chunk);
  }
  std::uint32_t chunk_state[8];
  std::copy(std::begin(sha256_kernel::kInitialState), std::end(sha256_kernel::kInitialState), chunk_state);
  std::size_t blocks = chunk.size() / 64;
  if (blocks) sha256_kernel::compress2(state_, chunk_state, chunk.data(), blocks);
  total_ += blocks * 64;
  auto tail = chunk.subspan(blocks * 64);
  update(tail);  // into partial_, for the whole-blob state
  return finish_state(chunk_state, tail, chunk.size());
}

Digest BlobHasher::finish() {
  if (evp_) return evp_->finish();
  Digest d = finish_state(state_, {partial_.data(), partial_len_}, total_);
  reset();
  return d;
}

}  // namespace blobsync
