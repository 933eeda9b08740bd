// HashPipeline: the single streaming pass of an ingest.
//
// Bytes go into a ring of kSlotSize (1 MiB) buffers. Each full slot is handed
// to two tasks on a WorkerPool: the "lane" appends it to the BlobWriter, the
// "hasher" feeds it to the whole-blob SHA-256 and computes its four 256 KiB
// chunk digests in the same pass (BlobHasher: about 1.1x the cost of one
// SHA-256 pass on SHA-NI instead of 2x). Both take slots in order. So the
// producer only moves bytes (read(2) or a socket straight into the ring):
// reading, hashing and writing overlap on different cores, and the serial
// part is a single joint hashing pass, about what `openssl dgst` does.
// A producer that finds the ring full takes the hasher role itself when no
// pool thread holds it (the pool may be busy with other ingests' writes),
// so hashing never waits for a pool thread while the producer idles.
// Memory: kSlots * kSlotSize plus kHeadBytes, whatever the size. Slots are
// taken when first filled (a small blob holds one) and recycled through a
// process-wide cache of up to 16 idle slots.
//
// The slot memory is only read while the hash and the write are in flight,
// so the bytes hashed are exactly the bytes written.
//
// Thread safety: one producer thread at a time (write/acquire/finish); the
// pool threads are internal. The destructor waits for in-flight tasks.
#pragma once

#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "core/blob_hasher.h"
#include "core/digest.h"
#include "core/error.h"

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
  struct FreeSlot {
    void operator()(std::byte* p) const;
  };
  struct Slot {
    std::unique_ptr<std::byte, FreeSlot> memory;  // 4 KiB aligned for O_DIRECT
    std::byte* data = nullptr;                    // memory.get() until finish()
    std::size_t len = 0;
    bool busy = false;     // submitted and not yet retired
    bool written = false;  // the lane appended it (or skipped it)
    bool hashed = false;   // the hasher fed it to whole_ and filled chunk[]
    std::array<Digest, kChunksPerSlot> chunk{};
  };

  Slot& slot_for(std::uint64_t seq) { return slots_[seq % kSlots]; }
  void submit(Slot& s);
  // Pool tasks: each drains its queue in order, then drops its role.
  void lane();
  void hasher();
  void write_slot(Slot& s);
  // REQUIRES: the caller holds the hasher role. Touches only s and whole_.
  void hash_slot(Slot& s);
  // Producer: wait until `s` is written and hashed (taking the hasher role
  // when it is free), then collect its chunk hashes.
  void retire(Slot& s);
  static bool complete(const Slot& s) { return s.written && s.hashed; }

  WorkerPool* pool_;
  BlobWriter* writer_;
  std::array<Slot, kSlots> slots_;
  BlobHasher whole_;  // used by the hasher role's holder only

  // Producer-only state.
  std::uint64_t total_ = 0;
  std::uint64_t next_seq_ = 0;     // seq of the slot being filled (or to fill next)
  std::uint64_t retired_seq_ = 0;  // slots [retired_seq_, next_seq_) are busy
  Slot* filling_ = nullptr;
  std::vector<Digest> chunks_;
  std::array<std::byte, kHeadBytes> head_{};
  std::size_t head_len_ = 0;
  bool finished_ = false;

  // Shared with the pool tasks.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Slot*> lane_queue_;
  std::deque<Slot*> hash_queue_;
  bool lane_running_ = false;
  bool hashing_ = false;  // someone holds the hasher role
  std::optional<Error> error_;
};

}  // namespace blobsync
