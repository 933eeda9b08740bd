#include "store/hash_pipeline.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "core/chunking.h"
#include "store/backend.h"
#include "store/worker_pool.h"

namespace blobsync {

static_assert(HashPipeline::kSlotSize == HashPipeline::kChunksPerSlot * kChunkSize);

namespace {
// A partial last slot smaller than this, with nothing else in flight, is
// processed inline: handing it to the pool costs more than it saves.
constexpr std::size_t kInlineBelow = kChunkSize;
}  // namespace

namespace {

// Slot buffers are recycled: glibc mmaps a fresh 1 MiB allocation and
// munmaps it when freed, so every ingest page-faulted its buffers in again (a
// fault per 4 KiB, about a quarter of the CPU of putting a 1 MiB file). Idle
// slots wait here for the next ingests instead; never freed beyond that.
class SlotCache {
 public:
  static SlotCache& get() {
    static SlotCache* cache = new SlotCache;  // leaked: ingests may end during exit
    return *cache;
  }
  // The shared part of the ring budget (HashPipeline::kSharedSlots).
  bool try_borrow() {
    std::lock_guard g(mu_);
    if (borrowed_ >= HashPipeline::kSharedSlots) return false;
    ++borrowed_;
    return true;
  }
  void give_back(std::size_t n) {
    std::lock_guard g(mu_);
    borrowed_ -= n;
  }

  std::byte* take() {
    {
      std::lock_guard g(mu_);
      if (!idle_.empty()) {
        std::byte* p = idle_.back();
        idle_.pop_back();
        return p;
      }
    }
    auto* p = static_cast<std::byte*>(std::aligned_alloc(4096, HashPipeline::kSlotSize));
    if (!p) throw std::bad_alloc();
    return p;
  }
  void give(std::byte* p) {
    {
      std::lock_guard g(mu_);
      if (idle_.size() < kMaxIdle) {
        idle_.push_back(p);
        return;
      }
    }
    std::free(p);
  }

 private:
  // Enough for put_files' commits in flight with a small file each, or a
  // few large ingests' full rings, or one grown ring: 56 MiB at most.
  static constexpr std::size_t kMaxIdle = 16 + HashPipeline::kMaxSlots;
  std::mutex mu_;
  std::vector<std::byte*> idle_;
  std::size_t borrowed_ = 0;
};

}  // namespace

void HashPipeline::FreeSlot::operator()(std::byte* p) const { SlotCache::get().give(p); }

HashPipeline::HashPipeline(WorkerPool* pool, BlobWriter* writer) : pool_(pool), writer_(writer) {}

HashPipeline::~HashPipeline() {
  {
    // The pool tasks may still reference our slots.
    std::unique_lock lk(mu_);
    cv_.wait(lk, [this] { return !lane_running_ && !hashing_; });
  }
  release_ring();
}

void HashPipeline::release_ring() {
  // REQUIRES: no slot in flight (finish() retired them, or the destructor
  // waited for the pool tasks).
  filling_ = nullptr;
  in_flight_.clear();
  idle_.clear();
  slots_.clear();  // their memory goes back to the SlotCache
  ring_slots_.store(0, std::memory_order_relaxed);
  if (borrowed_ > 0) SlotCache::get().give_back(std::exchange(borrowed_, 0));
}

HashPipeline::Slot& HashPipeline::add_slot() {
  slots_.push_back(std::make_unique<Slot>());
  ring_slots_.store(slots_.size(), std::memory_order_relaxed);
  return *slots_.back();
}

HashPipeline::Slot& HashPipeline::next_slot() {
  for (;;) {
    // Finished slots are reused first.
    std::unique_lock lk(mu_);
    if (!in_flight_.empty() && complete(*in_flight_.front())) {
      lk.unlock();
      retire_oldest();
      continue;
    }
    lk.unlock();
    if (!idle_.empty()) {
      Slot* s = idle_.back();
      idle_.pop_back();
      return *s;
    }
    if (slots_.size() < kBaseSlots || in_flight_.empty()) return add_slot();
    lk.lock();
    const Slot& oldest = *in_flight_.front();
    if (complete(oldest)) continue;
    // Grow only while the writer is what holds the oldest slot: when hashing
    // is behind, more memory would not make it faster.
    bool writer_behind = oldest.hashed && slots_.size() < kMaxSlots;
    if (writer_behind && SlotCache::get().try_borrow()) {
      ++borrowed_;
      return add_slot();
    }
    if (!hashing_ && !hash_queue_.empty()) {
      hashing_ = true;  // the pool has not got to it: hash here
      lk.unlock();
      hasher();
      continue;
    }
    if (writer_behind) {
      // The budget is spent; another ingest may return its share meanwhile
      // without telling us.
      cv_.wait_for(lk, std::chrono::milliseconds(5));
    } else {
      cv_.wait(lk);
    }
  }
}

Result<std::span<std::byte>> HashPipeline::acquire() {
  if (finished_) return fail(Errc::kInternal, "write after finish");
  {
    std::lock_guard g(mu_);
    if (error_) return std::unexpected(*error_);
  }
  if (!filling_) {
    Slot& s = next_slot();
    if (!s.memory) {  // taken when first needed: a 1 MiB blob holds one slot
      s.memory.reset(SlotCache::get().take());
      s.data = s.memory.get();
    }
    s.len = s.sent = s.hashed_to = 0;
    {
      // Retired, so no pool task holds it; its first piece may go to the lane before submit().
      std::lock_guard g(mu_);
      s.written = s.hashed = false;
    }
    filling_ = &s;
  }
  return std::span<std::byte>(filling_->data + filling_->len, kSlotSize - filling_->len);
}

Result<> HashPipeline::filled(std::size_t n) {
  Slot& s = *filling_;
  if (head_len_ < kHeadBytes && total_ < kHeadBytes) {
    std::size_t at = static_cast<std::size_t>(total_);
    std::size_t take = std::min(n, kHeadBytes - at);
    std::memcpy(head_.data() + at, s.data + s.len, take);
    head_len_ = at + take;
  }
  s.len += n;
  total_ += n;
  if (hash_on_producer_ && s.len < kSlotSize) hash_filled(s, false);  // a full slot: submit() does it
  if (s.len == kSlotSize) submit(s);
  return {};
}

void HashPipeline::hash_on_producer() {
  if (total_ == 0 && pool_ && writer_) hash_on_producer_ = true;  // else everything is inline anyway
}

bool HashPipeline::hash_filled(Slot& s, bool tail) {
  // Filled bytes go to the writer before they are hashed, so the device
  // writes them while this core hashes them (put reads a blob's first slot
  // whole, so a 1 MiB file's write overlaps all of its hashing, not just
  // its first half's). Each write costs a device request (a VM exit on a virtual
  // disk), so pieces are large: at least half a slot in the blob's first
  // slot (a small blob's write still starts before the end of the file),
  // whole slots after, the rest at the tail.
  const std::size_t batch = total_ <= kSlotSize ? kSlotSize / 2 : kSlotSize;
  bool sent_last = false;
  if (tail ? s.len > s.sent : s.len - s.sent >= batch) {
    sent_last = tail;
    send(s, s.len - s.sent, tail);
  }
  while (s.len - s.hashed_to >= kChunkSize || (tail && s.len > s.hashed_to)) {
    std::size_t n = std::min(kChunkSize, s.len - s.hashed_to);
    s.chunk[s.hashed_to / kChunkSize] = whole_.update_with_chunk({s.data + s.hashed_to, n});
    s.hashed_to += n;
  }
  return sent_last;
}

void HashPipeline::send(Slot& s, std::size_t len, bool last) {
  Piece p{&s, s.sent, len, last};
  s.sent += len;
  std::lock_guard g(mu_);
  lane_queue_.push_back(p);
  if (!lane_running_) {
    lane_running_ = true;
    pool_->post([this] { lane(); });
  }
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
  in_flight_.push_back(&s);
  if (hash_on_producer_) {
    // Sends the rest, the last piece marking it written; when the hashing was
    // done already (a slot ending on a chunk boundary), what is left unsent
    // (perhaps nothing) goes as the last piece.
    if (!hash_filled(s, true)) send(s, s.len - s.sent, true);
    std::lock_guard g(mu_);
    s.hashed = true;
    return;
  }
  bool inline_all = pool_ == nullptr || (s.len < kInlineBelow && in_flight_.size() == 1);
  if (inline_all) {
    // Nothing else in flight (or no pool): the hasher role is free.
    write_piece({&s, 0, s.len, false});
    hash_slot(s);
    std::lock_guard g(mu_);
    s.written = s.hashed = true;
    return;
  }
  std::lock_guard g(mu_);
  lane_queue_.push_back({&s, 0, s.len, true});
  hash_queue_.push_back(&s);
  if (!lane_running_) {
    lane_running_ = true;
    pool_->post([this] { lane(); });
  }
  if (!hashing_) {
    hashing_ = true;
    pool_->post([this] { hasher(); });
  }
}

void HashPipeline::write_piece(const Piece& p) {
  if (!writer_ || p.len == 0) return;
  {
    std::lock_guard g(mu_);
    if (error_) return;
  }
  if (auto r = writer_->append(std::span<const std::byte>(p.slot->data + p.from, p.len)); !r) {
    std::lock_guard g(mu_);
    if (!error_) error_ = r.error();
  }
}

void HashPipeline::hash_slot(Slot& s) {
  for (std::size_t i = 0; i * kChunkSize < s.len; ++i) {
    std::size_t begin = i * kChunkSize;
    s.chunk[i] = whole_.update_with_chunk({s.data + begin, std::min<std::size_t>(kChunkSize, s.len - begin)});
  }
}

void HashPipeline::lane() {
  for (;;) {
    Piece p;
    {
      std::lock_guard g(mu_);
      if (lane_queue_.empty()) {
        lane_running_ = false;
        cv_.notify_all();
        return;
      }
      p = lane_queue_.front();
      lane_queue_.pop_front();
    }
    write_piece(p);
    if (!p.last) continue;
    std::lock_guard g(mu_);
    p.slot->written = true;
    if (complete(*p.slot)) cv_.notify_all();
  }
}

void HashPipeline::hasher() {
  // Holds the role (hashing_ was set by whoever started us) until the queue is empty.
  for (;;) {
    Slot* s;
    {
      std::lock_guard g(mu_);
      if (hash_queue_.empty()) {
        hashing_ = false;
        cv_.notify_all();
        return;
      }
      s = hash_queue_.front();
      hash_queue_.pop_front();
    }
    hash_slot(*s);
    std::lock_guard g(mu_);
    s->hashed = true;
    cv_.notify_all();  // complete, or hashed while the writer holds it: the ring may grow
  }
}

void HashPipeline::retire_oldest() {
  Slot& s = *in_flight_.front();
  std::unique_lock lk(mu_);
  while (!complete(s)) {
    if (!hashing_ && !hash_queue_.empty()) {
      hashing_ = true;  // the pool has not got to it: hash here
      lk.unlock();
      hasher();
      lk.lock();
      continue;
    }
    cv_.wait(lk);
  }
  lk.unlock();
  // Slots retire in submission order, so chunk hashes come out in blob order.
  std::size_t n = (s.len + kChunkSize - 1) / kChunkSize;
  for (std::size_t i = 0; i < n; ++i) chunks_.push_back(s.chunk[i]);
  in_flight_.pop_front();
  idle_.push_back(&s);
}

Result<PipelineResult> HashPipeline::finish() {
  if (finished_) return fail(Errc::kInternal, "finish called twice");
  if (filling_ && filling_->len > 0) submit(*filling_);
  filling_ = nullptr;
  finished_ = true;
  while (!in_flight_.empty()) retire_oldest();
  {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [this] { return !lane_running_ && !hashing_; });
    if (error_) return std::unexpected(*error_);
  }
  // The ring is no longer needed: a commit that waits for the disk (or a
  // batch of them, put_files) should not hold its buffers.
  release_ring();
  PipelineResult out;
  out.digest = whole_.finish();
  out.size = total_;
  out.chunk_hashes = std::move(chunks_);
  return out;
}

}  // namespace blobsync
