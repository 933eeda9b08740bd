#include "sql/sqlite_sql_db.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <sqlite3.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <exception>

#include <sqlite3.h>

namespace blobsync {

namespace {

constexpr std::size_t kMaxIdleReaders = 4;

// Binds, steps to the end and collects every row.
Result<SqlResult> run(SqliteDb& db, std::string_view sql, std::span<const SqlParam> params) {
  auto st = db.prepare(sql);
  if (!st) return std::unexpected(st.error());
  int index = 1;
  for (const SqlParam& p : params) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::nullptr_t>) st->bind_null(index);
          else if constexpr (std::is_same_v<T, SqlBytes>) st->bind_blob(index, v.data);
          else st->bind(index, v);
        },
        p);
    ++index;
  }
  SqlResult out(st->column_count());
  for (;;) {
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    for (int c = 0; c < out.columns(); ++c) {
      switch (st->column_type(c)) {
        case Statement::Type::kNull: out.push(std::monostate{}); break;
        case Statement::Type::kInteger: out.push(st->column_int64(c)); break;
        case Statement::Type::kBlob: {
          auto b = st->column_blob(c);
          out.push(std::string(reinterpret_cast<const char*>(b.data()), b.size()));
          break;
        }
        default: out.push(st->column_text(c)); break;
      }
    }
  }
  if (!st->readonly()) out.set_affected(db.changes());
  return out;
}

class Conn final : public SqlConn {
 public:
  explicit Conn(SqliteDb& db) : db_(db) {}
  using SqlConn::query;
  Result<SqlResult> query(std::string_view sql, std::span<const SqlParam> params) override {
    return run(db_, sql, params);
  }
  Result<> exec(std::string_view sql) override { return db_.exec(sql); }
  const SqlDialect& dialect() const override { return kSqliteDialect; }

 private:
  SqliteDb& db_;
};

class FileLock final : public SqlLock {
 public:
  explicit FileLock(int fd) : fd_(fd) {}
  ~FileLock() override { ::close(fd_); }
  Result<> lock(bool exclusive) override {
    while (::flock(fd_, exclusive ? LOCK_EX : LOCK_SH) != 0) {
      if (errno != EINTR) return std::unexpected(errno_error(errno, "flock"));
    }
    return {};
  }
  void unlock() override { (void)::flock(fd_, LOCK_UN); }

 private:
  int fd_;
};

}  // namespace

class SqliteSqlDb::ReaderLease {
 public:
  ReaderLease(SqliteSqlDb* owner, std::unique_ptr<SqliteDb> db) : owner_(owner), db_(std::move(db)) {}
  ReaderLease(ReaderLease&&) noexcept = default;
  ~ReaderLease() {
    if (!db_) return;
    std::lock_guard g(owner_->pool_mu_);
    if (owner_->idle_readers_.size() < kMaxIdleReaders) owner_->idle_readers_.push_back(std::move(db_));
  }
  SqliteDb& operator*() { return *db_; }

 private:
  SqliteSqlDb* owner_;
  std::unique_ptr<SqliteDb> db_;
};

Result<std::unique_ptr<SqliteSqlDb>> SqliteSqlDb::open(const std::filesystem::path& path,
                                                       const SqliteOptions& options) {
  auto db = SqliteDb::open(path, options);
  if (!db) return std::unexpected(db.error());
  SqliteDb* raw = db->get();
  std::unique_ptr<SqliteSqlDb> out(new SqliteSqlDb(std::move(*db), raw, options));
  out->map_wal_index();
  return out;
}

// The WAL index (the "-shm" file every connection to the database maps) begins
// with two copies of a 48-byte header that a writer rewrites on every commit
// (https://www.sqlite.org/walformat.html, "The WAL-Index Header": part of the
// file format, so every SQLite version and process agrees on it). SQLite's own
// mapping of it is taken through the VFS (xShmMap on the writer connection's
// file): opening the file ourselves would be wrong, since closing any
// descriptor of a file drops every POSIX lock this process holds on it,
// SQLite's included. The mapping lives as long as the writer connection.
void SqliteSqlDb::map_wal_index() {
  auto guard = writer_->lock();
  {  // Only a WAL database has an index (mapping one would create the file).
    auto st = writer_->prepare("PRAGMA journal_mode");
    if (!st) return;
    auto row = st->step();
    if (!row || !*row || st->column_text(0) != "wal") return;
  }
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(writer_->handle(), "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK || !file ||
      !file->pMethods || file->pMethods->iVersion < 2 || !file->pMethods->xShmMap)
    return;
  void volatile* region = nullptr;
  // Region 0 (32 KiB) holds the header; bExtend=0: never creates or grows it.
  if (file->pMethods->xShmMap(file, 0, 32768, 0, &region) != SQLITE_OK || !region) return;
  wal_index_ = static_cast<const std::uint32_t*>(const_cast<void*>(region));
}

std::optional<ChangeStamp> SqliteSqlDb::change_stamp() {
  if (!wal_index_) return std::nullopt;
  // As SQLite's own readers do (walIndexTryHdr): copy 1, barrier, copy 2;
  // a commit writes copy 2 first, so two equal copies are one whole header.
  std::array<std::uint32_t, 12> a, b;
  for (std::size_t i = 0; i < 12; ++i) a[i] = __atomic_load_n(&wal_index_[i], __ATOMIC_RELAXED);
  std::atomic_thread_fence(std::memory_order_acquire);
  for (std::size_t i = 0; i < 12; ++i) b[i] = __atomic_load_n(&wal_index_[12 + i], __ATOMIC_RELAXED);
  std::atomic_thread_fence(std::memory_order_acquire);
  if (a != b) return std::nullopt;  // a commit is writing it right now
  // Words: 0 version, 2 iChange (+1 per commit), 3 isInit (low byte on
  // little-endian, but any nonzero byte will do), 4 mxFrame, 8-9 the salts
  // (new whenever the WAL restarts).
  if (a[0] != 3007000 || a[3] == 0) return std::nullopt;
  return ChangeStamp{{a[2], a[4], a[8], a[9]}};
}

std::unique_ptr<SqliteSqlDb> SqliteSqlDb::borrow(SqliteDb& db) {
  return std::unique_ptr<SqliteSqlDb>(new SqliteSqlDb(nullptr, &db, SqliteOptions{}));
}

SqliteSqlDb::~SqliteSqlDb() = default;

std::string SqliteSqlDb::describe() const { return "sqlite:" + writer_->path().string(); }

Result<SqliteSqlDb::ReaderLease> SqliteSqlDb::reader() {
  {
    std::lock_guard g(pool_mu_);
    if (!idle_readers_.empty()) {
      auto db = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReaderLease(this, std::move(db));
    }
  }
  auto db = SqliteDb::open(writer_->path(), options_);
  if (!db) return std::unexpected(db.error());
  if (auto r = (*db)->exec("PRAGMA query_only=1"); !r) return std::unexpected(r.error());
  return ReaderLease(this, std::move(*db));
}

Result<SqlResult> SqliteSqlDb::query(std::string_view sql, std::span<const SqlParam> params) {
  auto guard = writer_->lock();
  return run(*writer_, sql, params);
}

Result<SqlResult> SqliteSqlDb::read(std::string_view sql, std::span<const SqlParam> params) {
  if (!owned_) return query(sql, params);
  auto db = reader();
  if (!db) return std::unexpected(db.error());
  return run(**db, sql, params);
}

struct SqliteSqlDb::Pending {
  const Body* body;
  Result<> result;
  std::exception_ptr thrown;  // the body threw: rethrown on its caller's thread
  bool done = false;
  std::condition_variable cv;  // its own, so a finished group wakes only its members and the next leader
};

Result<> SqliteSqlDb::transaction(const Body& body) {
  Pending me{&body, {}, nullptr, false, {}};
  std::unique_lock l(group_mu_);
  group_queue_.push_back(&me);
  while (!me.done) {
    if (group_running_) {
      me.cv.wait(l);
      continue;
    }
    group_running_ = true;
    auto batch = std::exchange(group_queue_, {});
    l.unlock();
    run_group(batch);
    l.lock();
    for (Pending* p : batch) {
      p->done = true;
      if (p != &me) p->cv.notify_one();
    }
    group_running_ = false;
    if (!group_queue_.empty()) group_queue_.front()->cv.notify_one();  // the next leader
  }
  l.unlock();
  if (me.thrown) std::rethrow_exception(me.thrown);
  return std::move(me.result);
}

namespace {

// Runs one body, turning an exception into an error (kept for its caller).
Result<> run_body(const SqlDb::Body& body, SqlConn& conn, std::exception_ptr& thrown) {
  try {
    return body(conn);
  } catch (...) {
    thrown = std::current_exception();
    return fail(Errc::kInternal, "transaction body threw");
  }
}

}  // namespace

void SqliteSqlDb::run_group(const std::vector<Pending*>& batch) {
  auto guard = writer_->lock();
  auto fail_all = [&](const Error& e) {
    for (Pending* p : batch) p->result = std::unexpected(e);
  };
  auto txn = writer_->begin();
  if (!txn) return fail_all(txn.error());
  Conn conn(*writer_);
  if (batch.size() == 1) {
    Pending& p = *batch.front();
    p.result = run_body(*p.body, conn, p.thrown);
    if (p.result) p.result = txn->commit();
    return;  // not committed: ~Transaction rolls back
  }
  for (Pending* p : batch) {
    if (auto r = writer_->exec("SAVEPOINT grp"); !r) return fail_all(r.error());
    Result<> r = run_body(*p->body, conn, p->thrown);
    // Some errors (I/O, full disk) end the whole transaction: the members
    // before this one are gone too.
    if (sqlite3_get_autocommit(writer_->handle()))
      return fail_all(r ? Error{Errc::kIOError, "the group's transaction ended early"} : r.error());
    if (!r) {
      if (auto rb = writer_->exec("ROLLBACK TO grp"); !rb) return fail_all(rb.error());
    }
    if (auto rel = writer_->exec("RELEASE grp"); !rel) return fail_all(rel.error());
    p->result = std::move(r);
  }
  if (auto c = txn->commit(); !c) {
    for (Pending* p : batch)
      if (p->result) p->result = std::unexpected(c.error());
  }
}

Result<std::unique_ptr<SqlLock>> SqliteSqlDb::open_lock(std::string_view name) {
  std::filesystem::path p = writer_->path();
  p += "." + std::string(name) + ".lock";
  int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(errno_error(errno, "open lock file " + p.string()));
  return std::unique_ptr<SqlLock>(new FileLock(fd));
}

}  // namespace blobsync
