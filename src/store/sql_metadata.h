// SqlMetadata: the MetadataStore on any SqlDb (SQLite or PostgreSQL), table
// `blobs` (migration component "blobs"):
//
//   blobs(hash BYTES PRIMARY KEY (32 bytes), size, mime_type, chunk_count,
//         chunk_hashes BYTES (32 * chunk_count), created_at_ms, state, owner,
//         unheld_at_ms, quarantine)
//   blob_hold(hash BYTES, holder TEXT, since_ms)   what keeps a blob
//                                                  (store/blob_lifecycle.h)
//   blob_pending(hash, token)   pending notes: rows committed while their
//                               bytes were flushed (docs/architecture.md,
//                               "Durable commit"); deleted by a later
//                               transaction once the bytes are durable
//   blob_totals(slot, blob_count, total_bytes, quarantined)
//                       running totals whose sums over the slots are what
//                       stats() and count_quarantined() report; every
//                       transaction that inserts or deletes a `blobs` row or
//                       changes its quarantine adds its delta (add_totals) in
//                       the same transaction, so a scrape scans nothing and
//                       every server (and CLI process) on the database sees
//                       one truth.
//
// insert_blob is one INSERT ... ON CONFLICT DO NOTHING, then (for an
// existing row) the temporary/permanent rule under a row lock, so two
// servers inserting the same blob at once store one row and both learn
// whether theirs was first. Concurrent insert_blob calls share a
// transaction (group commit: one durable commit for all of them, where
// each used to wait for its own fsync in turn); a row that fails sends the
// group's rows back to one transaction each, so errors stay with their
// callers. A caller that finds no group running commits one itself, with
// every row queued so far; one that finds a group running does its work
// `meanwhile` (a durable commit's flush) on its own thread while that group
// and then its own commit, instead of handing it to a thread and sleeping
// (16 KiB uploads: 14 -> 11 context switches each). A group wakes only its
// own callers, and one caller to lead the next. The HTTP layer keeps its
// lifecycle tables in the same database and locks these rows too
// (docs/metadata.md).
//
// Thread safety: safe for concurrent use from any number of threads.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/metadata.h"
#include "sql/sql_db.h"

namespace blobsync {

// Changes to blob_totals made by one transaction.
struct BlobTotalsDelta {
  std::int64_t blob_count = 0;
  std::int64_t total_bytes = 0;
  std::int64_t quarantined = 0;
};

class SqlMetadata : public MetadataStore {
 public:
  // Migrates the `blobs` component and returns the store.
  static Result<std::unique_ptr<SqlMetadata>> open(std::shared_ptr<SqlDb> db);

  using MetadataStore::insert_blob;
  Result<bool> insert_blob(const BlobRecord& record, std::string_view hold) override;
  Result<bool> insert_blob_with(const BlobRecord& record, std::string_view hold, const RowHook& with_row) override;
  bool keeps_notes() const override { return true; }
  Result<bool> insert_blob_noted(const BlobRecord& record, std::string_view hold, const RowHook& with_row,
                                 std::int64_t note, const Meanwhile& meanwhile) override;
  Result<std::optional<std::int64_t>> pending_note(const Digest& hash) override;
  void note_flushed(const Digest& hash, std::int64_t note) override;
  Result<> flush_notes() override;
  Result<std::vector<std::pair<Digest, std::int64_t>>> pending_notes() override;
  Result<> clear_note(const Digest& hash, std::int64_t note) override;
  Result<std::optional<BlobRecord>> get_blob(const Digest& hash) override;
  Result<> set_state(const Digest& hash, BlobState state) override;
  Result<> set_quarantine(const Digest& hash, std::string_view reason) override;
  Result<> set_filename(const Digest& hash, std::string_view name) override;
  Result<std::uint64_t> count_quarantined() override;
  Result<> delete_blob(const Digest& hash) override;
  Result<std::vector<BlobRecord>> list_blobs(std::optional<Digest> after, std::size_t limit) override;
  Result<MetadataStats> stats() override;
  std::optional<ChangeStamp> change_stamp() override { return db_->change_stamp(); }

  // Adds `d` to the totals inside the caller's transaction. Call it after
  // the transaction's last statement on `blobs` (lock order: blob rows,
  // then one totals row). Every writer that deletes `blobs` rows outside
  // this class (the GC sweeper) must call it too.
  static Result<> add_totals(SqlConn& c, const BlobTotalsDelta& d);
  // The delta of deleting the rows a `DELETE FROM blobs ... RETURNING size,
  // quarantine` returned.
  static BlobTotalsDelta removed_totals(const SqlResult& deleted);
  static constexpr std::int64_t kTotalsSlots = 16;

  SqlDb& sql() { return *db_; }
  const std::shared_ptr<SqlDb>& shared_sql() const { return db_; }

  // Migration steps of the `blobs` component (DDL templates, sql_dialect.h).
  static const std::vector<std::string>& migrations();

 protected:
  explicit SqlMetadata(std::shared_ptr<SqlDb> db) : db_(std::move(db)) {}

 private:
  struct PendingInsert;
  void commit_group(std::vector<PendingInsert*>& batch);
  // Takes the queued rows as a group, commits them, wakes their callers.
  // REQUIRES: `lock` holds group_mu_, no group running.
  void run_group(std::unique_lock<std::mutex>& lock);
  void requeue_notes(std::vector<std::pair<Digest, std::int64_t>> notes);

  std::shared_ptr<SqlDb> db_;
  std::mutex group_mu_;
  std::vector<PendingInsert*> group_queue_;  // guarded by group_mu_
  bool group_running_ = false;               // guarded by group_mu_
  // Notes whose bytes are durable, deleted by the next group's transaction.
  std::vector<std::pair<Digest, std::int64_t>> flushed_notes_;  // guarded by group_mu_
};

}  // namespace blobsync
