// SqliteMetadata: the MetadataStore on SQLite (WAL), table `blobs`.
//
//   blobs(hash BLOB(32) PRIMARY KEY, size, mime_type, chunk_count,
//         chunk_hashes BLOB(32 * chunk_count), created_at_ms, state, owner)
//
// `owner` (nullable text) and `state` are the room the HTTP layer needs for
// lifecycle; it adds its own tables (accounts, references) through
// SqliteDb::migrate() under its own component name in the same database.
//
// Durability: the store fsyncs a blob's bytes before it inserts the row, and
// the database runs with synchronous=FULL by default, so a put that returned
// survives power loss with its row. (With synchronous=NORMAL a power loss
// could drop the newest rows; the bytes would survive as "not indexed", which
// verify reports. FULL costs one WAL fsync per put and is the default.)
//
// Thread safety: safe for concurrent use from any number of threads. Writes
// go through one connection under a mutex; reads use a small pool of
// read-only connections so lookups don't queue behind a slow write.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "store/metadata.h"
#include "store/sqlite_db.h"

namespace blobsync {

class SqliteMetadata final : public MetadataStore {
 public:
  // Opens or creates the database at `path` and migrates the blob table.
  static Result<std::unique_ptr<SqliteMetadata>> open(const std::filesystem::path& path,
                                                      const SqliteOptions& options = {});
  ~SqliteMetadata() override;

  Result<bool> insert_blob(const BlobRecord& record) override;
  Result<std::optional<BlobRecord>> get_blob(const Digest& hash) override;
  Result<> set_state(const Digest& hash, BlobState state) override;
  Result<> delete_blob(const Digest& hash) override;
  Result<std::vector<BlobRecord>> list_blobs(std::optional<Digest> after, std::size_t limit) override;
  Result<MetadataStats> stats() override;

  // The write connection, for other components' migrations and tables.
  SqliteDb& db() { return *writer_; }

  // Migration steps of the `blobs` component (exposed for tests).
  static const std::vector<std::string>& migrations();

 private:
  SqliteMetadata(std::unique_ptr<SqliteDb> writer, std::filesystem::path path, SqliteOptions options)
      : writer_(std::move(writer)), path_(std::move(path)), options_(options) {}

  // A read connection from the pool (opened on demand), returned on release.
  class ReaderLease;
  Result<ReaderLease> reader();

  std::unique_ptr<SqliteDb> writer_;
  std::filesystem::path path_;
  SqliteOptions options_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<SqliteDb>> idle_readers_;
};

}  // namespace blobsync
