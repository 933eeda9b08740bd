#include "protocol/flow_control.h"

#include <algorithm>

#include "core/chunking.h"

namespace blobsync::protocol {

std::uint32_t negotiate_window(std::uint32_t requested, std::uint32_t local) {
  return std::clamp<std::uint32_t>(std::min(requested, local), 1, kMaxWindow);
}

Result<> check_chunk(const ChunkMsg& chunk, std::uint64_t blob_size) {
  if (chunk.index >= chunk_count(blob_size)) return fail(Errc::kInvalidArgument, "chunk index {} out of range", chunk.index);
  if (chunk.data.size() != chunk_length(chunk.index, blob_size))
    return fail(Errc::kInvalidArgument, "chunk {} has {} bytes, expected {}", chunk.index, chunk.data.size(),
                chunk_length(chunk.index, blob_size));
  return {};
}

ChunkSender::ChunkSender(std::vector<ChunkRange> ranges, std::uint32_t window)
    : ranges_(std::move(ranges)), window_(std::max<std::uint32_t>(window, 1)) {
  for (const auto& r : ranges_) total_ += r.count;
}

std::uint64_t ChunkSender::sendable() const {
  std::uint64_t outstanding = sent_ - credited_;
  std::uint64_t room = outstanding >= window_ ? 0 : window_ - outstanding;
  return std::min(room, total_ - sent_);
}

std::uint64_t ChunkSender::sendable_run() const {
  std::uint64_t n = sendable();
  return n == 0 ? 0 : std::min(n, ranges_[range_].count - offset_);
}

void ChunkSender::mark_sent() {
  ++sent_;
  if (++offset_ == ranges_[range_].count) {
    offset_ = 0;
    ++range_;
  }
}

void ChunkSender::on_credit(std::uint64_t chunks) { credited_ += std::min(chunks, sent_ - credited_); }

Result<> ChunkReceiver::admit() {
  if (held_ >= window_) return fail(Errc::kInvalidArgument, "more than {} chunks sent without credit", window_);
  ++held_;
  return {};
}

void ChunkReceiver::release(std::uint32_t chunks) { held_ -= std::min(chunks, held_); }

std::uint32_t ChunkReceiver::batch_due() const {
  return held_ >= std::max<std::uint32_t>(1, window_ / 4) ? held_ : 0;
}

}  // namespace blobsync::protocol
