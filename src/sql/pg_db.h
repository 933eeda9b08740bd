// PgDb: SqlDb on PostgreSQL through libpq, so several blobsync servers can
// share one metadata database.
//
// A pool of up to PgOptions::max_connections connections, opened on demand;
// callers wait for a free one; an idle connection the server closed is
// noticed when it is taken from the pool and replaced. Transactions run at READ COMMITTED and are
// retried (up to 5 times) on serialization failures and deadlocks, and when
// the connection turns out dead at BEGIN (e.g. the server restarted since it
// was pooled). query() is such a transaction; read() runs without one and is
// retried the same way. A lost connection is dropped from the pool, never reused.
//
// open_lock(name) is a session-level advisory lock keyed by a 64-bit hash of
// the name, held on a dedicated connection; if that connection dies the lock
// is gone, and the next lock() reconnects.
//
// Thread safety: safe for concurrent use from any number of threads.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sql/pg_connection.h"
#include "sql/sql_db.h"

namespace blobsync {

class PgDb final : public SqlDb {
 public:
  // Connects once to check the URL and credentials (see PgConnection::connect).
  static Result<std::unique_ptr<PgDb>> connect(std::string_view url, const PgOptions& options = {});
  ~PgDb() override;

  const SqlDialect& dialect() const override { return kPostgresDialect; }
  std::string describe() const override { return description_; }
  using SqlDb::query;
  using SqlDb::read;
  Result<SqlResult> query(std::string_view sql, std::span<const SqlParam> params) override;
  Result<SqlResult> read(std::string_view sql, std::span<const SqlParam> params) override;
  Result<> transaction(const Body& body) override;
  Result<std::unique_ptr<SqlLock>> open_lock(std::string_view name) override;

 private:
  PgDb(std::string url, PgOptions options, std::string description)
      : url_(std::move(url)), options_(options), description_(std::move(description)) {}

  class Lease;
  Result<Lease> acquire();
  void release(std::unique_ptr<PgConnection> conn);

  std::string url_;
  PgOptions options_;
  std::string description_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PgConnection>> idle_;  // guarded by mu_
  int open_ = 0;                                     // connections idle or leased; guarded by mu_
};

}  // namespace blobsync
