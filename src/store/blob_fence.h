// BlobFence: keeps blob deletion (GC) apart from upload commits, across
// every thread and process that shares the metadata database.
//
// The race it closes: BlobStore::commit decides "these bytes are already
// stored" from the row and the backend, then inserts or refreshes the row.
// A GC that deleted the row and the bytes between those two steps would
// leave a row naming bytes that no longer exist. So:
//   - an upload holds the fence shared from finish() until its row (and,
//     for XRPC uploads, the account's claim) is written;
//   - GC holds it exclusively while it deletes one blob's row and bytes.
// Many uploads run at once; a deletion waits for the commits in flight and
// holds new ones back only for the few milliseconds it takes.
//
// Across processes it is a SqlDb::open_lock("blob-fence") (flock beside a
// SQLite file, an advisory lock on PostgreSQL); within a process, shared
// holders share that one OS-level lock and a waiting exclusive holder is
// served before new shared ones.
//
// Thread safety: safe for concurrent use. A Guard is released by the
// thread that took it. Never take the fence while holding a database
// transaction or another fence guard (fence first, then the database).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>

#include "core/error.h"
#include "sql/sql_db.h"

namespace blobsync {

class BlobFence {
 public:
  static Result<std::shared_ptr<BlobFence>> open(SqlDb& db);

  class Guard {
   public:
    Guard() = default;
    Guard(Guard&& o) noexcept : fence_(std::exchange(o.fence_, nullptr)), exclusive_(o.exclusive_) {}
    Guard& operator=(Guard&& o) noexcept;
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() { release(); }
    void release();

   private:
    friend class BlobFence;
    Guard(BlobFence* fence, bool exclusive) : fence_(fence), exclusive_(exclusive) {}
    BlobFence* fence_ = nullptr;
    bool exclusive_ = false;
  };

  // Block until granted. Errors: the OS-level lock failed (kIOError,
  // kTimeout); nothing is held then.
  Result<Guard> shared();
  Result<Guard> exclusive();

 private:
  explicit BlobFence(std::unique_ptr<SqlLock> lock) : os_lock_(std::move(lock)) {}
  void release_shared();
  void release_exclusive();

  std::unique_ptr<SqlLock> os_lock_;
  std::mutex mu_;
  std::condition_variable cv_;
  int shared_ = 0;            // in-process shared holders; guarded by mu_
  int exclusive_waiting_ = 0;  // guarded by mu_
  bool exclusive_held_ = false;  // guarded by mu_
  bool os_busy_ = false;       // a thread is taking or releasing the OS lock; guarded by mu_
};

}  // namespace blobsync
