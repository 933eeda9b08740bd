// SqliteMetadata: the MetadataStore on SQLite (WAL), the embedded default:
// SqlMetadata (store/sql_metadata.h, schema and semantics) over a
// SqliteSqlDb on DATA/meta.db.
//
// Other components keep their tables in the same database, through
// SqliteDb::migrate() on db() or through the SqlDb from shared_sql().
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

#include "store/sql_metadata.h"
#include "sql/sqlite_sql_db.h"

namespace blobsync {

class SqliteMetadata final : public SqlMetadata {
 public:
  // Opens or creates the database at `path` and migrates the blob table.
  static Result<std::unique_ptr<SqliteMetadata>> open(const std::filesystem::path& path,
                                                      const SqliteOptions& options = {});

  // The write connection, for other components' migrations and tables.
  SqliteDb& db() { return sqlite_->writer(); }

 private:
  SqliteMetadata(std::shared_ptr<SqlDb> db, SqliteSqlDb* sqlite) : SqlMetadata(std::move(db)), sqlite_(sqlite) {}
  SqliteSqlDb* sqlite_;  // the SqlDb owned by the base
};

}  // namespace blobsync
