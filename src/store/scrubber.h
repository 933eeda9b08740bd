// Scrubber: re-hashes every stored blob in the background, within a byte
// budget, and quarantines the ones whose bytes went bad (docs/architecture.md,
// "Quarantine and scrub").
//
//   - Walks the blob index in hash order with a cursor that wraps around; a
//     new pass starts at most every `interval` after the last one started.
//     The cursor is kept in `state_file`, so a restart resumes the pass
//     instead of re-hashing the low hashes again.
//   - Each blob is re-hashed with BlobStore::read_verified, throttled to
//     `rate` bytes/s (every blob also costs 4 KiB of budget, so a store of
//     tiny blobs does not turn into an IOPS storm).
//   - A blob that fails (kCorruption: bytes changed, shortened or gone) is
//     quarantined and logged (warn); `heal` is called for it. Read errors
//     that may be transient (EIO, a remote backend's timeout) are logged and
//     left alone.
//   - A blob already quarantined (by verify, a failed transfer, an earlier
//     pass) is re-checked too: if its bytes check out it is released,
//     otherwise `heal` is called again (a peer may be back).
//   - Counters for /metrics: bytes re-hashed, failures, and the number of
//     quarantined blobs (a COUNT on the scrubber's thread, redone when
//     BlobStore::quarantine_generation() moves, at every wrap and every 10
//     minutes for changes made by other processes, e.g. `blobsync verify`:
//     the COUNT reads the whole table, 80 ms for a million rows in cache).
//
// Thread safety: start() and stop() (and the destructor, which stops) from
// one owning thread; stats() from any thread. `heal` runs on the scrubber's
// thread and must not block for long (post the work elsewhere).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/digest.h"
#include "core/error.h"

namespace blobsync {

class BlobStore;
struct BlobRecord;

struct ScrubOptions {
  std::uint64_t rate = 16ull << 20;  // bytes/s re-hashed; 0: no scrubbing (the gauge is still kept)
  // A pass starts at most this often (a small store is not re-read in a
  // loop; a large one is scrubbed continuously at `rate`).
  std::chrono::milliseconds interval = std::chrono::hours(24);
  std::filesystem::path state_file;  // the cursor, kept across restarts; empty: not kept
  // Asks for a good copy of a quarantined blob (the mesh's heal). May be empty.
  std::function<void(const Digest&)> heal;
};

class Scrubber {
 public:
  struct Stats {
    std::uint64_t bytes = 0;        // re-hashed since start
    std::uint64_t failures = 0;     // blobs this scrubber quarantined
    std::uint64_t released = 0;     // quarantined blobs whose bytes checked out again
    std::uint64_t passes = 0;       // completed passes since start
    std::int64_t quarantined = -1;  // blobs quarantined now; -1 until first counted
  };

  // REQUIRES: store outlives the Scrubber.
  Scrubber(BlobStore& store, ScrubOptions options);
  ~Scrubber();  // stop()
  Scrubber(const Scrubber&) = delete;
  Scrubber& operator=(const Scrubber&) = delete;

  // Starts the thread (once). With rate 0 it only keeps the quarantine gauge.
  void start();
  // Stops within one chunk's read (the throttle and the pauses between
  // passes wait on a condition variable) and joins. Idempotent.
  void stop();

  Stats stats() const;
  // Prometheus lines: blobsync_store_quarantined_blobs,
  // blobsync_scrub_bytes_total, blobsync_scrub_failures_total.
  std::string render_metrics() const;

 private:
  void run();
  // Re-hashes one blob; false when stopping.
  bool scrub(const BlobRecord& row);
  Result<> rehash(const BlobRecord& row);
  // Spends `bytes` of the budget; false when stopping.
  bool throttle(std::uint64_t bytes);
  // Waits until `deadline` or stop(); false when stopping.
  bool wait_until(std::chrono::steady_clock::time_point deadline);
  void recount(bool force);
  void load_state();
  void save_state();

  BlobStore& store_;
  const ScrubOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;

  // Scrubber thread only.
  std::optional<Digest> cursor_;      // last blob done in this pass
  bool in_pass_ = false;              // false: waiting for the next pass to be due
  std::int64_t pass_started_ms_ = 0;  // wall clock, kept in the state file
  std::chrono::steady_clock::time_point budget_{};  // when the bytes spent so far are paid for
  std::chrono::steady_clock::time_point last_save_{}, last_count_{};
  std::uint64_t counted_gen_ = 0;

  std::atomic<std::uint64_t> bytes_{0}, failures_{0}, released_{0}, passes_{0};
  std::atomic<std::int64_t> quarantined_{-1};
};

}  // namespace blobsync
