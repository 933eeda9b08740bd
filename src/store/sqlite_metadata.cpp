#include "store/sqlite_metadata.h"

#include <cstring>

#include "core/blob_id.h"

namespace blobsync {

namespace {

constexpr std::size_t kMaxIdleReaders = 4;

std::span<const std::uint8_t> key(const Digest& d) { return {d.bytes.data(), d.bytes.size()}; }

Result<Digest> digest_from(std::span<const std::uint8_t> blob) {
  Digest d;
  if (blob.size() != d.bytes.size()) return fail(Errc::kCorruption, "metadata: hash column has {} bytes", blob.size());
  std::memcpy(d.bytes.data(), blob.data(), blob.size());
  return d;
}

constexpr const char* kColumns = "hash, size, mime_type, chunk_count, created_at_ms, state";

// Reads the columns in kColumns order (plus chunk_hashes at index 6 if `with_chunks`).
Result<BlobRecord> read_row(const Statement& st, bool with_chunks) {
  BlobRecord r;
  auto d = digest_from(st.column_blob(0));
  if (!d) return std::unexpected(d.error());
  r.hash = *d;
  r.size = static_cast<std::uint64_t>(st.column_int64(1));
  r.mime_type = st.column_text(2);
  r.chunk_count = static_cast<std::uint64_t>(st.column_int64(3));
  r.created_at_ms = st.column_int64(4);
  r.state = st.column_int64(5) == 0 ? BlobState::kTemporary : BlobState::kPermanent;
  if (with_chunks) {
    auto blob = st.column_blob(6);
    if (blob.size() != r.chunk_count * 32)
      return fail(Errc::kCorruption, "metadata: blob {} has {} bytes of chunk hashes for {} chunks", to_hash_ref(r.hash),
                  blob.size(), r.chunk_count);
    r.chunk_hashes.resize(r.chunk_count);
    for (std::size_t i = 0; i < r.chunk_count; ++i) std::memcpy(r.chunk_hashes[i].bytes.data(), blob.data() + 32 * i, 32);
  }
  return r;
}

}  // namespace

const std::vector<std::string>& SqliteMetadata::migrations() {
  static const std::vector<std::string> steps = {
      // 1: the blob index.
      "CREATE TABLE blobs ("
      "  hash BLOB PRIMARY KEY CHECK (length(hash) = 32),"
      "  size INTEGER NOT NULL CHECK (size >= 0),"
      "  mime_type TEXT NOT NULL,"
      "  chunk_count INTEGER NOT NULL,"
      "  chunk_hashes BLOB NOT NULL CHECK (length(chunk_hashes) = 32 * chunk_count),"
      "  created_at_ms INTEGER NOT NULL,"
      "  state INTEGER NOT NULL DEFAULT 1,"
      "  owner TEXT"
      ");"
      "CREATE INDEX blobs_by_state_created ON blobs(state, created_at_ms);",
  };
  return steps;
}

class SqliteMetadata::ReaderLease {
 public:
  ReaderLease(SqliteMetadata* owner, std::unique_ptr<SqliteDb> db) : owner_(owner), db_(std::move(db)) {}
  ReaderLease(ReaderLease&&) noexcept = default;
  ~ReaderLease() {
    if (!db_) return;
    std::lock_guard g(owner_->pool_mu_);
    if (owner_->idle_readers_.size() < kMaxIdleReaders) owner_->idle_readers_.push_back(std::move(db_));
  }
  SqliteDb* operator->() { return db_.get(); }
  SqliteDb& operator*() { return *db_; }

 private:
  SqliteMetadata* owner_;
  std::unique_ptr<SqliteDb> db_;
};

Result<SqliteMetadata::ReaderLease> SqliteMetadata::reader() {
  {
    std::lock_guard g(pool_mu_);
    if (!idle_readers_.empty()) {
      auto db = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReaderLease(this, std::move(db));
    }
  }
  auto db = SqliteDb::open(path_, options_);
  if (!db) return std::unexpected(db.error());
  if (auto r = (*db)->exec("PRAGMA query_only=1"); !r) return std::unexpected(r.error());
  return ReaderLease(this, std::move(*db));
}

Result<std::unique_ptr<SqliteMetadata>> SqliteMetadata::open(const std::filesystem::path& path,
                                                            const SqliteOptions& options) {
  auto db = SqliteDb::open(path, options);
  if (!db) return std::unexpected(db.error());
  if (auto r = (*db)->migrate("blobs", migrations()); !r) return std::unexpected(r.error());
  return std::unique_ptr<SqliteMetadata>(new SqliteMetadata(std::move(*db), path, options));
}

SqliteMetadata::~SqliteMetadata() = default;

Result<bool> SqliteMetadata::insert_blob(const BlobRecord& record) {
  if (record.chunk_hashes.size() != record.chunk_count)
    return fail(Errc::kInternal, "insert_blob: {} chunk hashes for {} chunks", record.chunk_hashes.size(),
                record.chunk_count);
  auto guard = writer_->lock();
  auto txn = writer_->begin();
  if (!txn) return std::unexpected(txn.error());
  std::optional<BlobState> existing;
  {
    auto st = writer_->prepare("SELECT state FROM blobs WHERE hash = ?");
    if (!st) return std::unexpected(st.error());
    st->bind_blob(1, key(record.hash));
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    if (*row) existing = st->column_int64(0) == 0 ? BlobState::kTemporary : BlobState::kPermanent;
  }
  if (!existing) {
    std::vector<std::uint8_t> chunks(record.chunk_hashes.size() * 32);
    for (std::size_t i = 0; i < record.chunk_hashes.size(); ++i)
      std::memcpy(chunks.data() + 32 * i, record.chunk_hashes[i].bytes.data(), 32);
    auto st = writer_->prepare(
        "INSERT INTO blobs(hash, size, mime_type, chunk_count, chunk_hashes, created_at_ms, state) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!st) return std::unexpected(st.error());
    st->bind_blob(1, key(record.hash))
        .bind(2, static_cast<std::int64_t>(record.size))
        .bind(3, record.mime_type)
        .bind(4, static_cast<std::int64_t>(record.chunk_count))
        .bind_blob(5, chunks)
        .bind(6, record.created_at_ms)
        .bind(7, static_cast<std::int64_t>(record.state));
    if (auto r = st->run(); !r) return std::unexpected(r.error());
  } else if (*existing == BlobState::kTemporary) {
    // Temporary over temporary refreshes the grace period; permanent promotes.
    auto st = record.state == BlobState::kPermanent
                  ? writer_->prepare("UPDATE blobs SET state = 1 WHERE hash = ?")
                  : writer_->prepare("UPDATE blobs SET created_at_ms = max(created_at_ms, ?) WHERE hash = ?");
    if (!st) return std::unexpected(st.error());
    if (record.state == BlobState::kPermanent) {
      st->bind_blob(1, key(record.hash));
    } else {
      st->bind(1, record.created_at_ms).bind_blob(2, key(record.hash));
    }
    if (auto r = st->run(); !r) return std::unexpected(r.error());
  }
  if (auto r = txn->commit(); !r) return std::unexpected(r.error());
  return !existing;
}

Result<std::optional<BlobRecord>> SqliteMetadata::get_blob(const Digest& hash) {
  auto db = reader();
  if (!db) return std::unexpected(db.error());
  auto st = (*db)->prepare(fmt::format("SELECT {}, chunk_hashes FROM blobs WHERE hash = ?", kColumns));
  if (!st) return std::unexpected(st.error());
  st->bind_blob(1, key(hash));
  auto row = st->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<BlobRecord>();
  auto rec = read_row(*st, true);
  if (!rec) return std::unexpected(rec.error());
  return std::optional<BlobRecord>(std::move(*rec));
}

Result<> SqliteMetadata::set_state(const Digest& hash, BlobState state) {
  auto guard = writer_->lock();
  auto st = writer_->prepare("UPDATE blobs SET state = ? WHERE hash = ?");
  if (!st) return std::unexpected(st.error());
  st->bind(1, static_cast<std::int64_t>(state)).bind_blob(2, key(hash));
  if (auto r = st->run(); !r) return r;
  if (writer_->changes() == 0) return fail(Errc::kNotFound, "blob {} is not stored", to_hash_ref(hash));
  return {};
}

Result<> SqliteMetadata::delete_blob(const Digest& hash) {
  auto guard = writer_->lock();
  auto st = writer_->prepare("DELETE FROM blobs WHERE hash = ?");
  if (!st) return std::unexpected(st.error());
  st->bind_blob(1, key(hash));
  return st->run();
}

Result<std::vector<BlobRecord>> SqliteMetadata::list_blobs(std::optional<Digest> after, std::size_t limit) {
  std::vector<BlobRecord> out;
  if (limit == 0) return out;
  auto db = reader();
  if (!db) return std::unexpected(db.error());
  auto st = after ? (*db)->prepare(fmt::format("SELECT {} FROM blobs WHERE hash > ? ORDER BY hash LIMIT ?", kColumns))
                  : (*db)->prepare(fmt::format("SELECT {} FROM blobs ORDER BY hash LIMIT ?", kColumns));
  if (!st) return std::unexpected(st.error());
  std::int64_t lim = limit > static_cast<std::size_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(limit);
  if (after) {
    st->bind_blob(1, key(*after)).bind(2, lim);
  } else {
    st->bind(1, lim);
  }
  for (;;) {
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    auto rec = read_row(*st, false);
    if (!rec) return std::unexpected(rec.error());
    out.push_back(std::move(*rec));
  }
  return out;
}

Result<MetadataStats> SqliteMetadata::stats() {
  auto db = reader();
  if (!db) return std::unexpected(db.error());
  auto st = (*db)->prepare("SELECT count(*), coalesce(sum(size), 0) FROM blobs");
  if (!st) return std::unexpected(st.error());
  auto row = st->step();
  if (!row) return std::unexpected(row.error());
  MetadataStats s;
  if (*row) {
    s.blob_count = static_cast<std::uint64_t>(st->column_int64(0));
    s.total_bytes = static_cast<std::uint64_t>(st->column_int64(1));
  }
  return s;
}

}  // namespace blobsync
