// The store's one-flush-phase commit (docs/architecture.md, "Durable commit"):
//
//   DurabilityGate        the digests of this process whose rows may be
//                         visible while their bytes are still being flushed;
//                         readers wait here so none sees a blob before it is
//                         durable.
//   FlushThreads          where those flushes run, beside the row's commit.
//   commit_noted(...)     the commit itself.
//   recover_pending(...)  at open: every blob with a pending note has its
//                         bytes re-verified (kept and synced if intact, row
//                         and file removed if not: such a put was never
//                         reported); skipped while another live process
//                         shares the store (its notes are its own).
//
// Thread safety: a DurabilityGate is safe for concurrent use from any number
// of threads; recover_pending runs before the store serves anything.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "store/backend.h"
#include "store/metadata.h"

namespace blobsync {

class DurabilityGate {
 public:
  // Between enter() and leave() of a digest, wait() on it blocks.
  void enter(const Digest& d);
  void leave(const Digest& d);
  // Returns at once when nothing is being flushed (one atomic load).
  void wait(const Digest& d);

 private:
  std::atomic<int> flushing_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<Digest, int> digests_;  // guarded by mu_
};

// Threads for the flushes that run beside a row's commit: one per flush in
// flight, made when all are busy (up to `max`; beyond it flushes queue) and
// kept, so a burst of puts does not queue its flushes behind each other and
// a steady stream creates no thread per put.
class FlushThreads {
 public:
  explicit FlushThreads(unsigned max) : max_(max) {}
  ~FlushThreads();  // runs what was posted, then joins
  FlushThreads(const FlushThreads&) = delete;
  FlushThreads& operator=(const FlushThreads&) = delete;
  void post(std::function<void()> task);

 private:
  void run();
  const unsigned max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  unsigned idle_ = 0;                        // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;         // guarded by mu_
};

// A non-zero random token naming one note (a later note of the same blob
// replaces it, and deleting the old one must not delete the new).
std::int64_t new_note_token();

struct NotedCommit {
  BlobBackend& backend;  // not durable_on_publish()
  MetadataStore& metadata;  // keeps_notes()
  DurabilityGate& gate;
  FlushThreads& flushers;
};

// BlobStore's commit of a verified blob in one flush phase: the bytes are
// published under their name at once (writer non-null unless `bytes_ok`),
// then their flush (file and directory) runs on this thread while the row
// commits with a pending note on the metadata's committer (on a flush
// thread instead when `mime_ready` is false: `mime` may wait for a sniff);
// returns (whether the row was inserted) only when both are done. `row` is the blob's row before,
// `bytes_ok` whether its bytes are there (then the writer is dropped: a
// dedup, which syncs the stored copy if it still has a note), `heal` whether
// that row is quarantined (its copy is replaced). `record` gets its MIME
// type from `mime`, called once the flush has started. REQUIRES: the caller
// holds the digest's lock. Errors: the backend's, the flush's, the metadata's.
Result<bool> commit_noted(const NotedCommit& c, BlobWriter* writer, BlobRecord& record,
                          const std::function<std::string()>& mime, bool mime_ready, std::string_view hold,
                          const MetadataStore::RowHook& with_row, const std::optional<BlobRecord>& row, bool bytes_ok,
                          bool heal);

struct PendingRecovery {
  std::uint64_t kept = 0;     // verified and synced
  std::uint64_t removed = 0;  // bad or missing bytes: row and file removed
};

// Errors: metadata and backend errors other than bad bytes (those are the point).
Result<PendingRecovery> recover_pending(MetadataStore& metadata, BlobBackend& backend);

}  // namespace blobsync
