// SqlDb: the small SQL-database interface that the metadata layer and the
// HTTP stores (accounts, records, blob lifecycle) are written against, so one
// implementation of their logic runs on SQLite (the embedded default, one
// file in the data dir) and on PostgreSQL (one database shared by several
// servers).
//
//   db->transaction([&](SqlConn& c) -> Result<> {
//     auto row = c.query("SELECT state FROM blobs WHERE hash = ?" + db->dialect().for_update(),
//                        {SqlBytes{key}});
//     if (!row) return std::unexpected(row.error());
//     ...
//   });
//
// SQL is written once, in the subset both databases share, with `?`
// placeholders (PostgreSQL's driver numbers them $1, $2...). Upserts use
// `INSERT ... ON CONFLICT (...) DO NOTHING / DO UPDATE SET x = excluded.x`,
// which both accept. SqlDialect (sql_dialect.h) covers the rest: DDL type
// tokens and row locks.
//
// Concurrency model: on SQLite a transaction is BEGIN IMMEDIATE, so write
// transactions run one at a time (across processes too); on PostgreSQL it is
// READ COMMITTED, so code that decides on rows it later changes locks them
// first with dialect().for_update(). transaction() retries the whole body on
// a serialization failure or deadlock, so a body must have no effect outside
// the database.
//
// Thread safety: a SqlDb is safe for concurrent use from any number of
// threads. A SqlConn handed to a transaction body is used by the thread that
// runs the body only, and only until the body returns. That thread may be
// another caller's: SQLite commits concurrent transactions as a group
// (sqlite_sql_db.h), so a body must not rely on thread-local state.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.h"
#include "sql/change_stamp.h"
#include "sql/sql_dialect.h"
#include "sql/sql_result.h"

namespace blobsync {

// A byte-string parameter (BLOB / BYTEA).
struct SqlBytes {
  std::span<const std::uint8_t> data;
};

// A bound parameter. Unsigned values must be cast on purpose: the variant
// refuses narrowing conversions.
using SqlParam = std::variant<std::nullptr_t, std::int64_t, std::string_view, SqlBytes>;

// One connection, inside a transaction or on its own.
class SqlConn {
 public:
  virtual ~SqlConn() = default;

  // One statement with `?` parameters.
  virtual Result<SqlResult> query(std::string_view sql, std::span<const SqlParam> params) = 0;
  Result<SqlResult> query(std::string_view sql, std::initializer_list<SqlParam> params = {}) {
    return query(sql, std::span<const SqlParam>(params.begin(), params.size()));
  }
  // One or more statements separated by ';', without parameters (DDL).
  virtual Result<> exec(std::string_view sql) = 0;
  virtual const SqlDialect& dialect() const = 0;
};

// A lock named within one database and shared by every process that uses
// it (SQLite: flock on a file beside the database; PostgreSQL: an advisory
// lock held by a dedicated session). Used by one thread at a time.
class SqlLock {
 public:
  virtual ~SqlLock() = default;
  // Blocks until granted. Errors: kTimeout, kIOError (connection lost).
  virtual Result<> lock(bool exclusive) = 0;
  // REQUIRES: lock() succeeded and unlock() was not called since.
  virtual void unlock() = 0;
};

class SqlDb {
 public:
  using Body = std::function<Result<>(SqlConn&)>;

  virtual ~SqlDb() = default;

  virtual const SqlDialect& dialect() const = 0;
  // "sqlite:/path/meta.db" or "postgresql://user@host:port/db" (never a password).
  virtual std::string describe() const = 0;

  // One statement in a transaction of its own.
  virtual Result<SqlResult> query(std::string_view sql, std::span<const SqlParam> params) = 0;
  Result<SqlResult> query(std::string_view sql, std::initializer_list<SqlParam> params = {}) {
    return query(sql, std::span<const SqlParam>(params.begin(), params.size()));
  }
  // A read-only statement. SQLite runs it on a pooled read connection so
  // lookups don't queue behind a slow write.
  virtual Result<SqlResult> read(std::string_view sql, std::span<const SqlParam> params) { return query(sql, params); }
  Result<SqlResult> read(std::string_view sql, std::initializer_list<SqlParam> params = {}) {
    return read(sql, std::span<const SqlParam>(params.begin(), params.size()));
  }

  // Runs `body` in one transaction: committed if it returns success, rolled
  // back otherwise (its error is returned). REQUIRES: the body uses only the
  // SqlConn it is given (calling this SqlDb from inside a body may deadlock),
  // and may run more than once (see the file comment).
  virtual Result<> transaction(const Body& body) = 0;

  // A named cross-process lock (see SqlLock).
  virtual Result<std::unique_ptr<SqlLock>> open_lock(std::string_view name) = 0;

  // A token that two calls return equal only if no connection of any process
  // committed to the database in between, read without a query (caches of
  // rows check it on every use). nullopt: this database cannot tell cheaply
  // (PostgreSQL, a SQLite file not in WAL mode); nothing may then be cached
  // across requests.
  virtual std::optional<ChangeStamp> change_stamp() { return std::nullopt; }

  // Applies missing schema migration steps for `component` in one
  // transaction, recording the version in schema_migrations(component,
  // version, applied_at_ms). Steps are DDL templates (sql_dialect.h tokens),
  // append-only: never edit or reorder a released step. A database whose
  // recorded version is newer than the steps this binary knows is refused
  // with kCorruption. Safe when several processes start at once.
  Result<> migrate(std::string_view component, const std::vector<std::string>& steps);
  // The recorded version of `component` (0 if none).
  Result<int> schema_version(std::string_view component);
};

}  // namespace blobsync
