// PgConnection: one libpq connection as a SqlConn. Statements are prepared
// once per connection (`?` placeholders numbered $1, $2... outside quotes
// and comments) and run with binary parameters, so text holding a NUL or
// invalid UTF-8 is refused by the server (kInvalidArgument) rather than
// silently cut. Results come back as text and are converted by column type
// (integers and booleans to integers, BYTEA decoded to bytes).
//
// Errors map from SQLSTATE: unique/foreign-key violations, serialization
// failures and deadlocks -> kConflict; lock or statement timeout ->
// kTimeout; bad data -> kInvalidArgument; authentication -> kPermissionDenied;
// no such database -> kNotFound; disk full -> kNoSpace; lost connection and
// everything else -> kIOError. The message names the statement.
//
// Thread safety: used by one thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sql/sql_db.h"

struct pg_conn;
struct pg_result;

namespace blobsync {

struct PgOptions {
  int max_connections = 8;                     // pool size of a PgDb
  std::chrono::seconds connect_timeout{10};    // unless the URL sets connect_timeout
  std::chrono::seconds lock_timeout{30};       // a statement waiting longer for a row lock fails (kTimeout)
  std::chrono::seconds statement_timeout{300};
};

class PgConnection final : public SqlConn {
 public:
  // `url`: postgresql://user[:password]@host[:port]/db[?param=value...] or a
  // libpq keyword string. Errors: kInvalidArgument (malformed URL),
  // kPermissionDenied, kNotFound (no such database), kIOError (unreachable).
  static Result<std::unique_ptr<PgConnection>> connect(std::string_view url, const PgOptions& options);
  ~PgConnection() override;
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  using SqlConn::query;
  Result<SqlResult> query(std::string_view sql, std::span<const SqlParam> params) override;
  Result<> exec(std::string_view sql) override;
  const SqlDialect& dialect() const override { return kPostgresDialect; }

  // The connection was lost; it must be discarded.
  bool broken() const;
  // Reads whatever the server sent while the connection sat idle (a
  // termination notice when it restarted) without blocking; false if the
  // connection is gone.
  bool alive();
  // SQLSTATE of the last failed statement ("" after a success).
  const std::string& last_sqlstate() const { return sqlstate_; }
  // postgresql://user@host:port/db, no password.
  std::string describe() const;

 private:
  explicit PgConnection(pg_conn* conn) : conn_(conn) {}
  // Records the SQLSTATE and builds the Error for a failed statement.
  Error failure(pg_result* res, std::string_view what, std::string_view sql);
  Result<std::string> prepared(std::string_view sql, std::span<const SqlParam> params);

  pg_conn* conn_;
  std::string sqlstate_;
  std::unordered_map<std::string, std::string> statements_;  // sql + parameter types -> name
};

// `?` -> `$1`, `$2`... outside string literals, quoted identifiers and
// comments. Exposed for tests.
std::string number_placeholders(std::string_view sql);

// True for SQLSTATEs after which a transaction should simply be run again.
bool pg_retryable(std::string_view sqlstate);

}  // namespace blobsync
