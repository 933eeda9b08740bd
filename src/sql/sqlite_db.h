// SqliteDb: a small RAII layer over one SQLite connection, shared by every
// component that keeps tables in the metadata database (the blob index here;
// accounts, references, rooms elsewhere).
//
//   auto db = SqliteDb::open(dir / "meta.db");
//   db->migrate("blobs", {"CREATE TABLE ...", "ALTER TABLE ..."});
//   auto lock = db->lock();                     // one thread at a time
//   auto st = db->prepare("SELECT size FROM blobs WHERE hash = ?");
//   st->bind(1, ...); while (*st->step()) { st->column_int64(0); }
//
// migrate(component, steps) applies steps[v..] for a component whose recorded
// version is v, in one transaction, and records the new version in
// schema_migrations(component, version). Steps are append-only: never edit or
// reorder a released step, add a new one. A database whose version for a
// component is newer than the binary's step list is refused (kCorruption),
// so an old binary never writes into a schema it does not know.
//
// Connections are opened in WAL mode with foreign keys on and a busy timeout,
// so several connections and processes may share one database file.
//
// Thread safety: a SqliteDb (its statements included) is used by one thread
// at a time; hold lock() around every use when sharing it between threads.
// prepare() caches statements per connection; a Statement is reset when its
// handle is destroyed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace blobsync {

struct SqliteOptions {
  // synchronous=FULL: a commit that returned is durable across power loss.
  // NORMAL (WAL only) may lose the last commits on power loss, never corrupts.
  bool synchronous_full = true;
  int busy_timeout_ms = 10'000;
  bool read_only = false;
};

// A prepared statement checked out of a connection's cache. Reset and
// bindings cleared on destruction.
class Statement {
 public:
  Statement(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  ~Statement();
  Statement(Statement&& o) noexcept : stmt_(std::exchange(o.stmt_, nullptr)), db_(o.db_) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;

  // Parameters are 1-based as in SQLite.
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, std::span<const std::uint8_t> blob);
  Statement& bind_null(int index);

  // True while a row is available; false when done.
  Result<bool> step();
  // step() and expect no row (INSERT/UPDATE/DELETE).
  Result<> run();

  // Columns of the current row.
  enum class Type { kNull, kInteger, kFloat, kText, kBlob };
  int column_count() const;
  Type column_type(int col) const;
  // True if the statement cannot change the database (a plain SELECT).
  bool readonly() const;

  std::int64_t column_int64(int col) const;
  std::string column_text(int col) const;
  std::span<const std::uint8_t> column_blob(int col) const;  // valid until the next step()
  bool column_is_null(int col) const;

 private:
  sqlite3_stmt* stmt_;
  sqlite3* db_;
};

class SqliteDb {
 public:
  // Opens (creating if needed) the database. Errors: kPermissionDenied,
  // kCorruption (not a database), kIOError.
  static Result<std::unique_ptr<SqliteDb>> open(const std::filesystem::path& path, const SqliteOptions& options = {});
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Serialises users of this connection.
  [[nodiscard]] std::unique_lock<std::mutex> lock() { return std::unique_lock(mu_); }

  // Runs one or more statements without results.
  Result<> exec(std::string_view sql);
  // A cached prepared statement.
  Result<Statement> prepare(std::string_view sql);
  std::int64_t changes() const;

  // Applies missing migration steps for `component` (see the file comment).
  // Takes lock() itself.
  Result<> migrate(std::string_view component, const std::vector<std::string>& steps);
  // Recorded version of `component` (0 if none). Takes lock() itself.
  Result<int> schema_version(std::string_view component);

  // RAII transaction: BEGIN IMMEDIATE on construction; rolls back unless
  // commit() succeeded. REQUIRES: lock() held for the transaction's lifetime.
  class Transaction {
   public:
    ~Transaction();
    Transaction(Transaction&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    Transaction& operator=(Transaction&&) = delete;
    Result<> commit();

   private:
    friend class SqliteDb;
    explicit Transaction(SqliteDb* db) : db_(db) {}
    SqliteDb* db_;
  };
  Result<Transaction> begin();

  // Copies this connection's main database into a new file `dest` with the
  // online backup API, in one step: one read transaction, so the copy is the
  // database as of one commit while other connections and processes keep
  // writing (WAL). `dest` must not exist. Errors: kConflict if it does,
  // kNoSpace, kPermissionDenied, kIOError.
  Result<> backup_into(const std::filesystem::path& dest);

  sqlite3* handle() { return db_; }
  const std::filesystem::path& path() const { return path_; }

  // The Error for the connection's last failure.
  Error error(int rc, std::string_view what) const;

 private:
  SqliteDb(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  std::filesystem::path path_;
  std::mutex mu_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace blobsync
