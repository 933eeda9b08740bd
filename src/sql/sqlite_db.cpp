#include "sql/sqlite_db.h"

#include <sqlite3.h>

#include "sql/sqlite_sql_db.h"

#include <cerrno>

namespace blobsync {

namespace {

Errc code_for(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL: return Errc::kNoSpace;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH: return Errc::kPermissionDenied;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return Errc::kCorruption;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR: return Errc::kIOError;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Errc::kTimeout;
    case SQLITE_CONSTRAINT: return Errc::kConflict;
    case SQLITE_TOOBIG: return Errc::kTooLarge;
    case SQLITE_MISUSE:
    case SQLITE_RANGE: return Errc::kInternal;
    default: return Errc::kIOError;
  }
}

}  // namespace

Error SqliteDb::error(int rc, std::string_view what) const {
  const char* msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  return Error{code_for(rc), fmt::format("{}: {} ({})", what, msg, path_.string())};
}

// ---------------------------------------------------------------------------
// Statement

Statement::~Statement() {
  if (stmt_) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Statement& Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}
Statement& Statement::bind_blob(int index, std::span<const std::uint8_t> blob) {
  // A zero-length blob must not bind as NULL: pass a valid pointer.
  static const std::uint8_t kEmpty = 0;
  sqlite3_bind_blob64(stmt_, index, blob.empty() ? &kEmpty : blob.data(), blob.size(), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  int ext = sqlite3_extended_errcode(db_);
  std::string msg = sqlite3_errmsg(db_);
  sqlite3_reset(stmt_);
  return make_error(code_for(ext), fmt::format("sqlite: {} (in: {})", msg, sqlite3_sql(stmt_)));
}

Result<> Statement::run() {
  auto r = step();
  if (!r) return std::unexpected(r.error());
  sqlite3_reset(stmt_);
  return {};
}

int Statement::column_count() const { return sqlite3_column_count(stmt_); }
Statement::Type Statement::column_type(int col) const {
  switch (sqlite3_column_type(stmt_, col)) {
    case SQLITE_INTEGER: return Type::kInteger;
    case SQLITE_FLOAT: return Type::kFloat;
    case SQLITE_TEXT: return Type::kText;
    case SQLITE_BLOB: return Type::kBlob;
    default: return Type::kNull;
  }
}
bool Statement::readonly() const { return sqlite3_stmt_readonly(stmt_) != 0; }

std::int64_t Statement::column_int64(int col) const { return sqlite3_column_int64(stmt_, col); }
std::string Statement::column_text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string();
}
std::span<const std::uint8_t> Statement::column_blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  if (!p || n <= 0) return {};
  return {static_cast<const std::uint8_t*>(p), static_cast<std::size_t>(n)};
}
bool Statement::column_is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

// ---------------------------------------------------------------------------
// SqliteDb

Result<std::unique_ptr<SqliteDb>> SqliteDb::open(const std::filesystem::path& path, const SqliteOptions& options) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE |
              (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw, path));
  if (rc != SQLITE_OK) {
    Error e = db->error(rc, "cannot open database");
    // SQLITE_CANTOPEN hides the errno; an unwritable directory is the usual cause.
    if ((rc & 0xff) == SQLITE_CANTOPEN && raw) {
      int err = sqlite3_system_errno(raw);
      if (err == EACCES || err == EPERM || err == EROFS) e.code = Errc::kPermissionDenied;
    }
    return std::unexpected(e);
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  std::string pragmas = fmt::format(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous={}; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;",
      options.synchronous_full ? "FULL" : "NORMAL");
  if (options.read_only) pragmas = "PRAGMA foreign_keys=ON;";
  if (auto r = db->exec(pragmas); !r) return std::unexpected(r.error());
  // Reading the schema checks the file really is a database, with a clear error if not.
  if (auto r = db->exec("SELECT count(*) FROM sqlite_schema"); !r) return std::unexpected(r.error());
  return db;
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Result<> SqliteDb::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    int ext = sqlite3_extended_errcode(db_);
    return make_error(code_for(ext ? ext : rc), fmt::format("sqlite: {} ({})", msg, path_.string()));
  }
  return {};
}

Result<Statement> SqliteDb::prepare(std::string_view sql) {
  std::string key(sql);
  auto it = cache_.find(key);
  if (it != cache_.end()) return Statement(it->second, db_);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, key.data(), static_cast<int>(key.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) return std::unexpected(error(rc, fmt::format("prepare \"{}\"", key)));
  cache_.emplace(std::move(key), stmt);
  return Statement(stmt, db_);
}

std::int64_t SqliteDb::changes() const { return sqlite3_changes64(db_); }

SqliteDb::Transaction::~Transaction() {
  // Not committed: the caller bailed out. A destructor cannot report; a
  // ROLLBACK that fails leaves the transaction open, and the next BEGIN says so.
  if (db_) (void)db_->exec("ROLLBACK");
}

Result<> SqliteDb::Transaction::commit() {
  if (!db_) return fail(Errc::kInternal, "commit of a finished transaction");
  auto r = db_->exec("COMMIT");
  if (r) db_ = nullptr;
  return r;
}

Result<SqliteDb::Transaction> SqliteDb::begin() {
  if (auto r = exec("BEGIN IMMEDIATE"); !r) return std::unexpected(r.error());
  return Transaction(this);
}

Result<> SqliteDb::backup_into(const std::filesystem::path& dest) {
  std::error_code ec;
  if (std::filesystem::exists(dest, ec)) return fail(Errc::kConflict, "{} already exists", dest.string());
  auto out = open(dest);
  if (!out) return std::unexpected(out.error());
  sqlite3_backup* b = sqlite3_backup_init((*out)->db_, "main", db_, "main");
  if (!b) return std::unexpected((*out)->error(sqlite3_errcode((*out)->db_), "backup of " + path_.string()));
  // -1: every page in one step, so no writer can restart it halfway and the
  // copy is one consistent read snapshot (writers are not blocked in WAL).
  int rc = sqlite3_backup_step(b, -1);
  int fin = sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) return make_error(code_for(rc), fmt::format("sqlite backup of {} into {}: {}", path_.string(),
                                                                      dest.string(), sqlite3_errstr(rc)));
  if (fin != SQLITE_OK) return std::unexpected((*out)->error(fin, "backup into " + dest.string()));
  // Fold the copy's WAL into its file, so the snapshot is one self-contained file.
  return (*out)->exec("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;");
}

// Migrations are SqlDb's (one implementation for SQLite and PostgreSQL).
Result<int> SqliteDb::schema_version(std::string_view component) {
  return SqliteSqlDb::borrow(*this)->schema_version(component);
}

Result<> SqliteDb::migrate(std::string_view component, const std::vector<std::string>& steps) {
  return SqliteSqlDb::borrow(*this)->migrate(component, steps);
}

}  // namespace blobsync
