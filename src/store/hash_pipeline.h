// HashPipeline: the single streaming pass of an ingest.
//
// Bytes go into a ring of kSlotSize (1 MiB) buffers. Each full slot is handed
// to two tasks on a WorkerPool: the "lane" appends it to the BlobWriter, the
// "hasher" feeds it to the whole-blob SHA-256 and computes its four 256 KiB
// chunk digests in the same pass (BlobHasher: about 1.25x the cost of one
// SHA-256 pass on SHA-NI instead of 2x). Both take slots in order. So the
// producer only moves bytes (read(2) or a socket straight into the ring):
// reading, hashing and writing overlap on different cores, and the serial
// part is a single joint hashing pass, about what `openssl dgst` does.
// A producer that finds the ring full takes the hasher role itself when no
// pool thread holds it (the pool may be busy with other ingests' writes),
// so hashing never waits for a pool thread while the producer idles.
//
// The ring grows while the writer falls behind: every ingest may hold
// kBaseSlots, and up to kMaxSlots by borrowing from a process-wide budget of
// kSharedSlots (first come, first served; returned at finish()). The disk
// stalls appends while it flushes (tens of ms per 64 MiB on a virtual disk);
// a deep ring lets hashing and reading go on meanwhile instead of stopping
// after 4 MiB. Finished slots are reused before new ones are taken, and the
// ring does not grow while hashing is what is behind (more memory would not
// help).
// Memory: at most kBaseSlots * kSlotSize per ingest plus kSharedSlots *
// kSlotSize for the whole process, plus kHeadBytes per ingest. Slots are
// taken when first filled (a small blob holds one) and recycled through a
// process-wide cache of idle slots.
//
// The slot memory is only read while the hash and the write are in flight,
// so the bytes hashed are exactly the bytes written.
//
// hash_on_producer() switches an ingest to hashing on the producer's thread:
// filled bytes are hashed as soon as they are filled, while they are still
// in the producer core's cache (the joint pass costs 0.74 ns/B on cached
// bytes against 0.93 from memory; a 1 MiB slot fits this machine's 2 MiB
// L2); the lane gets them before they are hashed (once at least half of
// the blob's first slot or a whole later slot is filled, and the rest at
// the end), so the device writes while this core hashes. The pool then
// only writes. For
// ingests fed by read(2) from a file (put, put_files), where the producer
// has nothing else to do: see put_file's notes in docs/performance.md.
//
// Thread safety: one producer thread at a time (write/acquire/finish); the
// pool threads are internal. The destructor waits for in-flight tasks.
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
  static constexpr std::size_t kBaseSlots = 4;
  static constexpr std::size_t kMaxSlots = 40;
  static constexpr std::size_t kSharedSlots = 64;
  static constexpr std::size_t kChunksPerSlot = 4;  // kSlotSize / kChunkSize
  static constexpr std::size_t kHeadBytes = 64 * 1024;

  // `pool` may be null (everything runs on the producer's thread); `writer`
  // may be null (hash only, e.g. verifying content that is already stored).
  HashPipeline(WorkerPool* pool, BlobWriter* writer);
  ~HashPipeline();
  HashPipeline(const HashPipeline&) = delete;
  HashPipeline& operator=(const HashPipeline&) = delete;

  // Hash on the producer's thread from now on (see above).
  // REQUIRES: nothing written yet.
  void hash_on_producer();

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
  // Slots the ring holds now (up to kMaxSlots; 0 after finish()). May be
  // called from any thread: a snapshot.
  std::size_t ring_slots() const { return ring_slots_.load(std::memory_order_relaxed); }
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
    std::size_t sent = 0;       // producer: bytes handed to the lane so far
    std::size_t hashed_to = 0;  // producer, hashing on the producer: bytes hashed so far
    bool written = false;  // the lane appended all of it (or skipped it)
    bool hashed = false;   // the hasher fed it to whole_ and filled chunk[]
    std::array<Digest, kChunksPerSlot> chunk{};
  };

  // Producer: the slot to fill next (a finished one, a new one, or the
  // oldest in flight once it completes).
  Slot& next_slot();
  Slot& add_slot();
  void submit(Slot& s);
  // What the lane appends next: bytes [from, from + len) of a slot; `last`
  // marks the slot written once they are.
  struct Piece {
    Slot* slot;
    std::size_t from, len;
    bool last;
  };
  // Producer: hands bytes [s.sent, s.sent + len) to the lane.
  void send(Slot& s, std::size_t len, bool last);
  // Producer, hashing on the producer: hashes the filled chunks of s not yet
  // hashed (and, with `tail`, a last partial one), sending each to the lane
  // first. Returns whether it sent s's last piece (only with `tail`).
  bool hash_filled(Slot& s, bool tail);
  // Pool tasks: each drains its queue in order, then drops its role.
  void lane();
  void hasher();
  void write_piece(const Piece& p);
  // REQUIRES: the caller holds the hasher role. Touches only s and whole_.
  void hash_slot(Slot& s);
  // Producer: wait until the oldest slot in flight is written and hashed
  // (taking the hasher role when it is free), then collect its chunk hashes.
  void retire_oldest();
  // Producer: frees the ring's memory and returns borrowed slots.
  void release_ring();
  static bool complete(const Slot& s) { return s.written && s.hashed; }

  WorkerPool* pool_;
  BlobWriter* writer_;
  std::vector<std::unique_ptr<Slot>> slots_;  // the ring: grows, never shrinks before finish()
  std::size_t borrowed_ = 0;                  // slots_ beyond kBaseSlots, from the shared budget
  std::atomic<std::size_t> ring_slots_{0};    // slots_.size(), for ring_slots()
  BlobHasher whole_;  // used by the hasher role's holder only

  // Producer-only state.
  std::uint64_t total_ = 0;
  std::deque<Slot*> in_flight_;  // submitted, not yet retired, oldest first
  std::vector<Slot*> idle_;      // retired (or never used) slots of slots_
  Slot* filling_ = nullptr;
  std::vector<Digest> chunks_;
  std::array<std::byte, kHeadBytes> head_{};
  std::size_t head_len_ = 0;
  bool finished_ = false;
  bool hash_on_producer_ = false;

  // Shared with the pool tasks.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Piece> lane_queue_;
  std::deque<Slot*> hash_queue_;
  bool lane_running_ = false;
  bool hashing_ = false;  // someone holds the hasher role
  std::optional<Error> error_;
};

}  // namespace blobsync
