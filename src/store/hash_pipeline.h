// HashPipeline: the single streaming pass of an ingest.
//
// Bytes go into a ring of kSlotSize (1 MiB) buffers. Each full slot is handed
// to a "lane" task on a WorkerPool that appends it to the BlobWriter, while
// the producing thread computes the whole-blob SHA-256 of the same slot.
// Chunks never straddle slots (1 MiB is a multiple of 256 KiB), so their
// hashes are independent and each is claimed by exactly one thread: the
// producer hashes the chunks it claims together with the whole blob in one
// pass (BlobHasher: about 1.1x the cost of one hash instead of 2x) until a
// helper task on the pool starts hashing chunks from the back of the slot;
// the lane hashes what is left after its write, and a producer that runs out
// of free slots steals chunks (newest slot first). An idle second core thus
// takes chunk work off the serial whole-blob pass (the helper starts at
// once), and on a busy machine the producer's joint pass does nearly all of
// it for little extra CPU. Memory: kSlots * kSlotSize plus kSniffBytes, whatever the size.
//
// The slot memory is only read while hashes and the write are in flight, so
// the bytes hashed are exactly the bytes written.
//
// Thread safety: one producer thread at a time (write/acquire/finish); the
// pool threads are internal. The destructor waits for in-flight lane work.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "core/blob_hasher.h"

namespace blobsync {

class BlobWriter;
class WorkerPool;

struct PipelineResult {
  Digest digest;
  std::uint64_t size = 0;
  std::vector<Digest> chunk_hashes;
};

class HashPipeline {
 public:
  static constexpr std::size_t kSlotSize = 1u << 20;
  static constexpr std::size_t kSlots = 4;
  static constexpr std::size_t kChunksPerSlot = 4;  // kSlotSize / kChunkSize
  static constexpr std::size_t kHeadBytes = 64 * 1024;

  // `pool` may be null (everything runs on the producer's thread); `writer`
  // may be null (hash only, e.g. verifying content that is already stored).
  HashPipeline(WorkerPool* pool, BlobWriter* writer);
  ~HashPipeline();
  HashPipeline(const HashPipeline&) = delete;
  HashPipeline& operator=(const HashPipeline&) = delete;

  // Copies data in. Errors: the writer's first error.
  Result<> write(std::span<const std::byte> data);

  // Zero-copy filling (e.g. read(2) straight into the ring): acquire() returns
  // the free space of the current slot (never empty), the caller fills a
  // prefix of it and reports how much with filled().
  Result<std::span<std::byte>> acquire();
  Result<> filled(std::size_t n);

  // Drains the ring and returns the hashes. The writer is not committed.
  // After finish() the pipeline is spent and its ring memory freed.
  Result<PipelineResult> finish();

  std::uint64_t size() const { return total_; }
  // The first min(size, kHeadBytes) bytes.
  std::span<const std::byte> head() const { return {head_.data(), head_len_}; }

 private:
  struct Slot {
    std::byte* data = nullptr;
    std::size_t len = 0;
    std::uint64_t offset = 0;  // of data[0] within the blob
    bool busy = false;         // submitted and not yet retired
    bool written = false;      // lane finished appending (or skipped)
    int nchunks = 0;
    int chunks_done = 0;
    std::array<std::atomic<bool>, kChunksPerSlot> claimed{};
    std::atomic<bool> helper_started{false};  // a helper task is hashing this slot's chunks
    std::array<Digest, kChunksPerSlot> chunk{};
  };

  Slot& slot_for(std::uint64_t seq) { return slots_[seq % kSlots]; }
  void submit(Slot& s);
  void lane();
  void helper(Slot& s);
  // Appends s to the writer (unless an error stopped writing).
  void write_slot(Slot& s);
  // Hashes one claimed chunk and records it. Returns false if nothing was claimable.
  bool hash_one(Slot& s, bool from_back);
  void record_chunk(Slot& s, std::size_t i, const Digest& d);
  // Producer: wait until `s` is retired, stealing chunk work meanwhile, then
  // collect its chunk hashes.
  void retire(Slot& s);
  bool steal_one();
  bool complete(const Slot& s) const { return s.written && s.chunks_done == s.nchunks; }

  WorkerPool* pool_;
  BlobWriter* writer_;
  struct FreeAligned {
    void operator()(std::byte* p) const;
  };
  std::unique_ptr<std::byte, FreeAligned> memory_;  // 4 KiB aligned for O_DIRECT
  std::array<Slot, kSlots> slots_;
  BlobHasher whole_;

  // Producer-only state.
  std::uint64_t total_ = 0;
  std::uint64_t next_seq_ = 0;     // seq of the slot being filled (or to fill next)
  std::uint64_t retired_seq_ = 0;  // slots [retired_seq_, next_seq_) are busy
  Slot* filling_ = nullptr;
  std::vector<Digest> chunks_;
  std::array<std::byte, kHeadBytes> head_{};
  std::size_t head_len_ = 0;
  bool finished_ = false;

  // Shared with the lane.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Slot*> lane_queue_;
  bool lane_running_ = false;
  int helpers_running_ = 0;
  std::optional<Error> error_;
};

}  // namespace blobsync
