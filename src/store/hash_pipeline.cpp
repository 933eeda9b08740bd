#include "store/hash_pipeline.h"

#include <algorithm>
#include <cstdlib>
#include <new>
#include <cstring>

#include "core/chunking.h"
#include "store/backend.h"
#include "store/worker_pool.h"

namespace blobsync {

static_assert(HashPipeline::kSlotSize == HashPipeline::kChunksPerSlot * kChunkSize);

namespace {
// Partial last slots smaller than this are processed inline: handing them to
// the lane costs more than it saves.
constexpr std::size_t kInlineBelow = kChunkSize;
}  // namespace

void HashPipeline::FreeAligned::operator()(std::byte* p) const { std::free(p); }

HashPipeline::HashPipeline(WorkerPool* pool, BlobWriter* writer)
    : pool_(pool),
      writer_(writer),
      memory_(static_cast<std::byte*>(std::aligned_alloc(4096, kSlots * kSlotSize))) {
  if (!memory_) throw std::bad_alloc();
  for (std::size_t i = 0; i < kSlots; ++i) {
    slots_[i].data = memory_.get() + i * kSlotSize;
    for (auto& c : slots_[i].claimed) c.store(true, std::memory_order_relaxed);
  }
}

HashPipeline::~HashPipeline() {
  // The lane and helpers may still reference our slots.
  std::unique_lock lk(mu_);
  cv_.wait(lk, [this] { return !lane_running_ && helpers_running_ == 0; });
}

Result<std::span<std::byte>> HashPipeline::acquire() {
  if (finished_) return fail(Errc::kInternal, "write after finish");
  {
    std::lock_guard g(mu_);
    if (error_) return std::unexpected(*error_);
  }
  if (!filling_) {
    Slot& s = slot_for(next_seq_);
    if (s.busy) retire(s);
    s.len = 0;
    s.offset = total_;
    filling_ = &s;
  }
  return std::span<std::byte>(filling_->data + filling_->len, kSlotSize - filling_->len);
}

Result<> HashPipeline::filled(std::size_t n) {
  Slot& s = *filling_;
  if (head_len_ < kHeadBytes && s.offset + s.len < kHeadBytes) {
    std::size_t at = static_cast<std::size_t>(s.offset + s.len);
    std::size_t take = std::min(n, kHeadBytes - at);
    std::memcpy(head_.data() + at, s.data + s.len, take);
    head_len_ = at + take;
  }
  s.len += n;
  total_ += n;
  if (s.len == kSlotSize) submit(s);
  return {};
}

Result<> HashPipeline::write(std::span<const std::byte> data) {
  while (!data.empty()) {
    auto space = acquire();
    if (!space) return std::unexpected(space.error());
    std::size_t n = std::min(space->size(), data.size());
    std::memcpy(space->data(), data.data(), n);
    if (auto r = filled(n); !r) return r;
    data = data.subspan(n);
  }
  return {};
}

void HashPipeline::submit(Slot& s) {
  filling_ = nullptr;
  ++next_seq_;
  s.busy = true;
  s.written = false;
  s.nchunks = static_cast<int>((s.len + kChunkSize - 1) / kChunkSize);
  s.chunks_done = 0;
  s.helper_started.store(false, std::memory_order_relaxed);
  // Chunks past the end are born claimed. Release: whoever claims a chunk sees len.
  for (std::size_t i = 0; i < kChunksPerSlot; ++i)
    s.claimed[i].store(static_cast<int>(i) >= s.nchunks, std::memory_order_release);

  bool inline_all = pool_ == nullptr || (s.len < kInlineBelow && retired_seq_ + 1 == next_seq_);
  if (inline_all) {
    write_slot(s);
    std::lock_guard g(mu_);
    s.written = true;
  } else {
    std::lock_guard g(mu_);
    lane_queue_.push_back(&s);
    if (!lane_running_) {
      lane_running_ = true;
      pool_->post([this] { lane(); });
    }
    if (pool_->size() > 1 && s.nchunks > 1) {
      ++helpers_running_;
      pool_->post([this, &s] { helper(s); });
    }
  }
  // The producer's share: the whole-blob hash, in order, while the lane
  // writes. Until the helper gets a core, the producer also claims chunks
  // and hashes them in the same pass (nearly free); once the helper runs, a
  // core is evidently idle and the chunks are left to it, which keeps the
  // serial whole-blob pass short.
  for (std::size_t i = 0; i < static_cast<std::size_t>(s.nchunks); ++i) {
    std::size_t begin = i * kChunkSize;
    std::span<const std::byte> chunk(s.data + begin, std::min<std::size_t>(kChunkSize, s.len - begin));
    if (s.helper_started.load(std::memory_order_acquire) || s.claimed[i].exchange(true, std::memory_order_acq_rel)) {
      whole_.update(chunk);
    } else {
      record_chunk(s, i, whole_.update_with_chunk(chunk));
    }
  }
}

void HashPipeline::record_chunk(Slot& s, std::size_t i, const Digest& d) {
  std::lock_guard g(mu_);
  s.chunk[i] = d;
  if (++s.chunks_done == s.nchunks && s.written) cv_.notify_all();
}

void HashPipeline::write_slot(Slot& s) {
  if (!writer_ || s.len == 0) return;
  {
    std::lock_guard g(mu_);
    if (error_) return;
  }
  if (auto r = writer_->append(std::span<const std::byte>(s.data, s.len)); !r) {
    std::lock_guard g(mu_);
    if (!error_) error_ = r.error();
  }
}

void HashPipeline::helper(Slot& s) {
  // May run late, when `s` already holds a later part of the blob: claiming
  // keeps that correct (it then hashes that part's chunks). From the back:
  // the producer takes chunks from the front in its whole-blob pass.
  s.helper_started.store(true, std::memory_order_release);
  while (hash_one(s, true)) {
  }
  std::lock_guard g(mu_);
  if (--helpers_running_ == 0) cv_.notify_all();
}

bool HashPipeline::hash_one(Slot& s, bool from_back) {
  constexpr int n = static_cast<int>(kChunksPerSlot);
  for (int k = 0; k < n; ++k) {
    int i = from_back ? n - 1 - k : k;
    if (s.claimed[static_cast<std::size_t>(i)].exchange(true, std::memory_order_acq_rel)) continue;
    std::size_t begin = static_cast<std::size_t>(i) * kChunkSize;
    std::size_t len = std::min<std::size_t>(kChunkSize, s.len - begin);
    record_chunk(s, static_cast<std::size_t>(i), Sha256::of(s.data + begin, len));
    return true;
  }
  return false;
}

void HashPipeline::lane() {
  for (;;) {
    Slot* s;
    {
      std::lock_guard g(mu_);
      if (lane_queue_.empty()) {
        lane_running_ = false;
        cv_.notify_all();
        return;
      }
      s = lane_queue_.front();
      lane_queue_.pop_front();
    }
    // Write first: the producer steals chunk hashes meanwhile.
    write_slot(*s);
    {
      std::lock_guard g(mu_);
      s->written = true;
      if (complete(*s)) cv_.notify_all();
    }
    while (hash_one(*s, false)) {
    }
  }
}

bool HashPipeline::steal_one() {
  // Newest busy slot first: the lane works from the oldest.
  for (std::uint64_t seq = next_seq_; seq > retired_seq_; --seq) {
    Slot& s = slot_for(seq - 1);
    if (hash_one(s, true)) return true;
  }
  return false;
}

void HashPipeline::retire(Slot& s) {
  while (true) {
    {
      std::lock_guard g(mu_);
      if (complete(s)) break;
    }
    if (steal_one()) continue;
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return complete(s); });
    break;
  }
  // Slots retire in submission order, so chunk hashes come out in blob order.
  for (int i = 0; i < s.nchunks; ++i) chunks_.push_back(s.chunk[static_cast<std::size_t>(i)]);
  s.busy = false;
  ++retired_seq_;
}

Result<PipelineResult> HashPipeline::finish() {
  if (finished_) return fail(Errc::kInternal, "finish called twice");
  if (filling_ && filling_->len > 0) submit(*filling_);
  filling_ = nullptr;
  finished_ = true;
  while (retired_seq_ < next_seq_) retire(slot_for(retired_seq_));
  {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [this] { return !lane_running_ && helpers_running_ == 0; });
    if (error_) return std::unexpected(*error_);
  }
  // The ring is no longer needed: a commit that waits for the disk (or a
  // batch of them, put_files) should not hold 4 MiB each.
  for (auto& slot : slots_) slot.data = nullptr;
  memory_.reset();
  PipelineResult out;
  out.digest = whole_.finish();
  out.size = total_;
  out.chunk_hashes = std::move(chunks_);
  return out;
}

}  // namespace blobsync
