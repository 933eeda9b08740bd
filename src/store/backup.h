// Backups that restore: `blobsync backup --to DIR` takes a consistent
// snapshot of a data directory while its server runs, and `blobsync restore
// --from DIR --data NEWDIR` rebuilds a data directory from one.
//
// Destination layout (DIR, created 0700; made for incremental runs):
//   DIR/blobs/<xx>/<hex>          every blob once, by hash, shared by snapshots
//                                 (the disk backend's layout: `disk:DIR`)
//   DIR/snapshots/<ID>/           one complete snapshot (ID: 20261207T041500Z):
//     manifest                    text: header, then "blob <hex> <size>" lines
//     meta.db                     the SQLite metadata (blobs, holds, rooms,
//                                 accounts, records) as of one commit, 0600
//     jwt.secret, room_token.secret   the data directory's secrets, 0600
//   DIR/snapshots/.partial-<ID>/  a snapshot being written; renamed to <ID>
//                                 only once everything in it is durable, so an
//                                 interrupted run never looks finished and
//                                 never touches an earlier snapshot. The next
//                                 run removes it.
// An S3 destination keeps the same layout as objects (SnapshotStore below,
// store/s3/s3_snapshot_store.h).
//
// Consistency (docs/architecture.md, "Backups"): every blob row is pinned
// (hold "pin:backup-<ID>") in the live database BEFORE the SQLite online
// backup copies meta.db in one read transaction; rows that appeared in
// between are pinned after it, and a row collected in between (it was
// unheld) is dropped from the snapshot. So no blob the snapshot names can be
// collected before it is copied, whatever GC runs meanwhile. The pins are
// released when the run ends (success or failure) and dropped from the
// snapshot's copy; a run that crashed leaves them, and the next run (which
// holds the database's "backup" lock, so no other run is live) releases every
// pin:backup-* it finds and says so. Blobs are copied re-hashed
// (copy_blob_verified); what DIR/blobs already has is skipped.
//
// PostgreSQL metadata: the blob index lives in PostgreSQL, which this does
// not dump (the operator runs pg_dump); the snapshot still has DATA/meta.db
// (rooms) and the secrets, and the blobs the index names, pinned the same way.
//
// Thread safety: run_backup and run_restore are called from one thread; they
// are safe next to a running server on the same data directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "store/backend.h"

namespace blobsync {

class BlobLifecycle;
class Env;
class MetadataStore;
class SqlDb;

// Where complete snapshots live: DIR/snapshots (dir_snapshot_store) or the
// objects PREFIX/snapshots/<ID>/... of a bucket (store/s3/s3_snapshot_store.h).
// A snapshot is written into a local directory first (staging_dir) and then
// published, which makes it visible all at once or not at all.
class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;
  // "DIR/snapshots" or "s3://bucket/prefix/snapshots", for messages.
  virtual std::string describe() const = 0;
  // The complete snapshots, oldest first.
  virtual Result<std::vector<std::string>> list() = 0;
  // Removes what interrupted runs left; returns how many snapshots' worth.
  virtual Result<std::uint64_t> remove_partials() = 0;
  // The local directory run_backup writes snapshot `id` into (not yet existing).
  virtual std::filesystem::path staging_dir(const std::string& id) = 0;
  // Makes the complete, fsynced staging_dir(id) the snapshot `id`.
  virtual Result<> publish(const std::string& id) = 0;
  // A local directory with snapshot `id`'s files, downloaded into `scratch`
  // (an empty directory) if they are not local already.
  virtual Result<std::filesystem::path> fetch(const std::string& id, const std::filesystem::path& scratch) = 0;
};

// DIR/snapshots: staged in DIR/snapshots/.partial-<ID>, published by rename.
std::unique_ptr<SnapshotStore> dir_snapshot_store(const std::filesystem::path& dir, Env* env = nullptr);

// The live data directory being backed up.
struct BackupSource {
  SqlDb* db = nullptr;               // the metadata database (blobs, blob_hold)
  MetadataStore* metadata = nullptr;  // the blob index on `db`
  BlobLifecycle* lifecycle = nullptr;
  BlobBackend* blobs = nullptr;       // where the bytes live (disk or S3)
  std::filesystem::path data_dir;     // DATA/meta.db (rooms...), the secrets
  bool index_in_meta_db = true;       // false: the blob index is in PostgreSQL
};

struct BackupProgress {
  std::uint64_t blobs = 0;  // in the snapshot
  std::uint64_t done = 0;   // copied + skipped so far
  std::uint64_t copied = 0, copied_bytes = 0;
  std::uint64_t skipped = 0, skipped_bytes = 0;  // already in DIR/blobs
};

struct BackupOptions {
  Env* env = nullptr;  // nullptr: POSIX
  // After each blob; also once before the first (done == 0).
  std::function<void(const BackupProgress&)> on_progress;
  // Called after "pinned" (every row held) and "snapshot" (meta.db copied):
  // tests change the live store there.
  std::function<void(std::string_view step)> on_step;
};

struct BackupReport {
  std::string id;                     // the snapshot's name under DIR/snapshots
  BackupProgress progress;
  std::uint64_t bytes = 0;            // total size of the snapshot's blobs
  std::uint64_t collected_meanwhile = 0;  // rows dropped: collected between pinning and the snapshot
  std::vector<std::string> stale_pins;    // pin:backup-* holders of crashed runs, released
  std::uint64_t stale_pinned_blobs = 0;
  std::uint64_t removed_partials = 0;     // .partial-* snapshots of interrupted runs removed
  std::vector<std::string> secrets;       // file names copied
  struct Failure {
    Digest digest;
    Error error;
  };
  // Blobs that could not be copied for a reason a re-run may not have (the
  // destination full or failing, the network): the snapshot was not completed.
  std::vector<Failure> failures;
  // Blobs whose live bytes are corrupt or gone (kCorruption, kNotFound): the
  // snapshot was completed without them, their rows quarantined in it (a
  // restored server serves them to nobody and heals them from a peer), so bit
  // rot in one blob does not stop every backup.
  std::vector<Failure> damaged;
  std::string pin_warning;  // non-empty if the run's pins could not be released
};

// Errors: those that stop the run (destination not writable, database, the
// snapshot). Per-blob failures are in the report (see `failures`, `damaged`).
// REQUIRES: every pointer in `source` is set; `dest_blobs` is DIR/blobs (or
// the bucket's PREFIX/blobs/).
Result<BackupReport> run_backup(const BackupSource& source, SnapshotStore& dest, BlobBackend& dest_blobs,
                                const BackupOptions& options = {});

struct RestoreProgress {
  std::uint64_t blobs = 0, done = 0, bytes = 0;
};

struct RestoreOptions {
  std::string snapshot;  // "" = the newest complete snapshot
  Env* env = nullptr;
  std::function<void(const RestoreProgress&)> on_progress;
};

struct RestoreReport {
  std::string id;
  std::uint64_t blobs = 0, bytes = 0;
  std::vector<std::string> secrets;
  bool index_in_meta_db = true;  // false: the snapshot came from PostgreSQL metadata
};

// Rebuilds a data directory in `new_dir`, which must not exist or be empty
// (kAlreadyExists otherwise). Every blob is re-hashed on the way: a missing
// or corrupt one stops the restore (kCorruption, naming it) and
// what was written into `new_dir` is removed. `backup_blobs` as for run_backup.
Result<RestoreReport> run_restore(SnapshotStore& backup, BlobBackend& backup_blobs, const std::filesystem::path& new_dir,
                                  const RestoreOptions& options = {});

}  // namespace blobsync
