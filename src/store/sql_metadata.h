// SqlMetadata: the MetadataStore on any SqlDb (SQLite or PostgreSQL), table
// `blobs` (migration component "blobs"):
//
//   blobs(hash BYTES PRIMARY KEY (32 bytes), size, mime_type, chunk_count,
//         chunk_hashes BYTES (32 * chunk_count), created_at_ms, state, owner,
//         unheld_at_ms, quarantine)
//   blob_hold(hash BYTES, holder TEXT, since_ms)   what keeps a blob
//                                                  (store/blob_lifecycle.h)
//
// insert_blob is one INSERT ... ON CONFLICT DO NOTHING, then (for an
// existing row) the temporary/permanent rule under a row lock, so two
// servers inserting the same blob at once store one row and both learn
// whether theirs was first. Concurrent insert_blob calls share a
// transaction (group commit: one durable commit for all of them, where
// each used to wait for its own fsync in turn); a row that fails sends the
// group's rows back to one transaction each, so errors stay with their
// callers. The HTTP layer keeps its lifecycle tables in the
// same database and locks these rows too (docs/metadata.md).
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

class SqlMetadata : public MetadataStore {
 public:
  // Migrates the `blobs` component and returns the store.
  static Result<std::unique_ptr<SqlMetadata>> open(std::shared_ptr<SqlDb> db);

  using MetadataStore::insert_blob;
  Result<bool> insert_blob(const BlobRecord& record, std::string_view hold) override;
  Result<std::optional<BlobRecord>> get_blob(const Digest& hash) override;
  Result<> set_state(const Digest& hash, BlobState state) override;
  Result<> set_quarantine(const Digest& hash, std::string_view reason) override;
  Result<std::uint64_t> count_quarantined() override;
  Result<> delete_blob(const Digest& hash) override;
  Result<std::vector<BlobRecord>> list_blobs(std::optional<Digest> after, std::size_t limit) override;
  Result<MetadataStats> stats() override;

  SqlDb& sql() { return *db_; }
  const std::shared_ptr<SqlDb>& shared_sql() const { return db_; }

  // Migration steps of the `blobs` component (DDL templates, sql_dialect.h).
  static const std::vector<std::string>& migrations();

 protected:
  explicit SqlMetadata(std::shared_ptr<SqlDb> db) : db_(std::move(db)) {}

 private:
  struct PendingInsert;
  void commit_group(std::vector<PendingInsert*>& batch);

  std::shared_ptr<SqlDb> db_;
  std::mutex group_mu_;
  std::condition_variable group_cv_;
  std::vector<PendingInsert*> group_queue_;  // guarded by group_mu_
  bool group_running_ = false;               // guarded by group_mu_
};

}  // namespace blobsync
