#include "sql/pg_db.h"

#include <chrono>
#include <random>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

namespace blobsync {

namespace {

constexpr int kMaxAttempts = 5;

// A short random pause before running a transaction again, so two servers
// that deadlocked do not collide the same way twice.
void backoff(int attempt) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_int_distribution<int> ms(1, 10 * attempt);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms(rng)));
}

std::int64_t lock_key(std::string_view name) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a: stable across processes and builds
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return static_cast<std::int64_t>(h);
}

class AdvisoryLock final : public SqlLock {
 public:
  // Waiting for the lock may take as long as any statement, not just lock_timeout.
  AdvisoryLock(std::string url, PgOptions options, std::int64_t key)
      : url_(std::move(url)), options_(options), key_(key) {
    options_.lock_timeout = options_.statement_timeout;
  }

  Result<> lock(bool exclusive) override {
    if (!conn_ || conn_->broken()) {
      auto c = PgConnection::connect(url_, options_);
      if (!c) return std::unexpected(c.error());
      conn_ = std::move(*c);
    }
    auto r = conn_->query(exclusive ? "SELECT pg_advisory_lock(?)" : "SELECT pg_advisory_lock_shared(?)", {key_});
    if (!r) return std::unexpected(r.error());
    exclusive_ = exclusive;
    return {};
  }

  void unlock() override {
    if (!conn_ || conn_->broken()) return;  // the server already released it
    // unlock() cannot report; the server also releases the lock when the
    // session ends.
    auto r = conn_->query(exclusive_ ? "SELECT pg_advisory_unlock(?)" : "SELECT pg_advisory_unlock_shared(?)", {key_});
    if (!r) spdlog::warn("pg: cannot release advisory lock {}: {}", key_, r.error().message);
  }

 private:
  std::string url_;
  PgOptions options_;
  std::int64_t key_;
  bool exclusive_ = false;
  std::unique_ptr<PgConnection> conn_;
};

}  // namespace

// A pooled connection, returned on destruction unless it broke.
class PgDb::Lease {
 public:
  Lease(PgDb* db, std::unique_ptr<PgConnection> conn) : db_(db), conn_(std::move(conn)) {}
  Lease(Lease&& o) noexcept : db_(std::exchange(o.db_, nullptr)), conn_(std::move(o.conn_)) {}
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  Lease& operator=(Lease&&) = delete;
  ~Lease() {
    if (db_) db_->release(std::move(conn_));
  }
  PgConnection& operator*() { return *conn_; }
  PgConnection* operator->() { return conn_.get(); }

 private:
  PgDb* db_;  // null once moved from
  std::unique_ptr<PgConnection> conn_;
};

Result<std::unique_ptr<PgDb>> PgDb::connect(std::string_view url, const PgOptions& options) {
  auto first = PgConnection::connect(url, options);
  if (!first) return std::unexpected(first.error());
  std::unique_ptr<PgDb> db(new PgDb(std::string(url), options, (*first)->describe()));
  db->open_ = 1;
  db->idle_.push_back(std::move(*first));
  return db;
}

PgDb::~PgDb() = default;

Result<PgDb::Lease> PgDb::acquire() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !idle_.empty() || open_ < options_.max_connections; });
  while (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    if (conn->alive()) return Lease(this, std::move(conn));
    --open_;  // closed by the server while idle (restart, idle timeout)
  }
  ++open_;
  lock.unlock();
  auto conn = PgConnection::connect(url_, options_);
  if (!conn) {
    lock.lock();
    --open_;
    cv_.notify_one();
    return std::unexpected(conn.error());
  }
  return Lease(this, std::move(*conn));
}

void PgDb::release(std::unique_ptr<PgConnection> conn) {
  std::lock_guard lock(mu_);
  if (conn && !conn->broken()) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  cv_.notify_one();
}

// A write runs in a transaction of its own: a connection that turns out dead
// fails at BEGIN, before anything ran, and the write is safely retried.
Result<SqlResult> PgDb::query(std::string_view sql, std::span<const SqlParam> params) {
  SqlResult out;
  auto r = transaction([&](SqlConn& c) -> Result<> {
    auto q = c.query(sql, params);
    if (!q) return std::unexpected(q.error());
    out = std::move(*q);
    return {};
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

// A read needs no BEGIN: it changes nothing, so it is simply run again on
// another connection when its connection broke or it hit a deadlock.
Result<SqlResult> PgDb::read(std::string_view sql, std::span<const SqlParam> params) {
  for (int attempt = 1;; ++attempt) {
    auto conn = acquire();
    if (!conn) return std::unexpected(conn.error());
    auto r = (*conn)->query(sql, params);
    if (r || attempt >= kMaxAttempts) return r;
    if ((*conn)->broken()) continue;
    if (!pg_retryable((*conn)->last_sqlstate())) return r;
    backoff(attempt);
  }
}

Result<> PgDb::transaction(const Body& body) {
  for (int attempt = 1;; ++attempt) {
    auto conn = acquire();
    if (!conn) return std::unexpected(conn.error());
    if (auto r = (*conn)->exec("BEGIN"); !r) {
      // A pooled connection that died while idle: nothing ran, try another.
      if ((*conn)->broken() && attempt < kMaxAttempts) continue;
      return r;
    }
    Result<> r;
    try {
      r = body(**conn);
    } catch (...) {
      // The connection goes back to the pool: it must not carry the thrown
      // body's open transaction to its next user's COMMIT.
      if (!(*conn)->broken()) (void)(*conn)->exec("ROLLBACK");
      throw;
    }
    if (r) {
      r = (*conn)->exec("COMMIT");
      if (r) return r;
    }
    std::string state = (*conn)->last_sqlstate();
    // After a failed COMMIT too: harmless. Its own failure is not reported:
    // the body's (or COMMIT's) error is the one that matters.
    if (!(*conn)->broken()) (void)(*conn)->exec("ROLLBACK");
    if (!(*conn)->broken() && pg_retryable(state) && attempt < kMaxAttempts) {
      backoff(attempt);
      continue;
    }
    return r;
  }
}

Result<std::unique_ptr<SqlLock>> PgDb::open_lock(std::string_view name) {
  return std::unique_ptr<SqlLock>(new AdvisoryLock(url_, options_, lock_key(name)));
}

}  // namespace blobsync
