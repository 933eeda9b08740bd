#include "http/repo_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "core/blob_id.h"
#include "store/blob_store.h"
#include "store/sqlite_db.h"

namespace blobsync::http {

namespace {

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

XrpcFailure internal(const Error& e) { return to_xrpc(Error{Errc::kInternal, e.message}); }

#define TRY_DB(expr)                                          \
  do {                                                        \
    if (auto _r = (expr); !_r) return std::unexpected(internal(_r.error())); \
  } while (0)

Result<Statement> prep(SqliteDb& db, std::string_view sql) { return db.prepare(sql); }

}  // namespace

Result<std::unique_ptr<RepoStore>> RepoStore::open(std::shared_ptr<SqliteDb> db, BlobStore& store) {
  auto m = db->migrate(
      "http_repo",
      {"CREATE TABLE account_blob(did TEXT NOT NULL, hash TEXT NOT NULL, cid TEXT NOT NULL, mime TEXT NOT NULL, "
       "size INTEGER NOT NULL, uploaded_at INTEGER NOT NULL, PRIMARY KEY(did, hash));"
       "CREATE INDEX account_blob_hash ON account_blob(hash);"
       "CREATE TABLE record(did TEXT NOT NULL, collection TEXT NOT NULL, rkey TEXT NOT NULL, cid TEXT NOT NULL, "
       "value TEXT NOT NULL, rev TEXT NOT NULL, PRIMARY KEY(did, collection, rkey));"
       "CREATE TABLE record_blob(did TEXT NOT NULL, collection TEXT NOT NULL, rkey TEXT NOT NULL, "
       "hash TEXT NOT NULL, cid TEXT NOT NULL, rev TEXT NOT NULL, PRIMARY KEY(did, collection, rkey, hash));"
       "CREATE INDEX record_blob_hash ON record_blob(hash);"
       "CREATE INDEX record_blob_did_cid ON record_blob(did, cid);"
       "CREATE TABLE managed_blob(hash TEXT PRIMARY KEY, unreferenced_at INTEGER);"});
  if (!m) return std::unexpected(m.error());
  return std::unique_ptr<RepoStore>(new RepoStore(std::move(db), store));
}

XResult<> RepoStore::note_upload(std::string_view did, const Digest& hash, std::string_view mime_type,
                                 std::uint64_t size) {
  std::lock_guard life(lifecycle_mu_);
  auto rec = store_.stat(hash);
  if (!rec) return std::unexpected(to_xrpc(rec.error()));
  auto lock = db_->lock();
  auto txn = db_->begin();
  if (!txn) return std::unexpected(internal(txn.error()));
  auto hex = hash.hex();
  {
    auto st = db_->prepare(
        "INSERT INTO account_blob(did, hash, cid, mime, size, uploaded_at) VALUES(?,?,?,?,?,?) "
        "ON CONFLICT(did, hash) DO UPDATE SET uploaded_at = excluded.uploaded_at, mime = excluded.mime");
    if (!st) return std::unexpected(internal(st.error()));
    st->bind(1, did).bind(2, hex).bind(3, to_cid(hash)).bind(4, mime_type).bind(5, static_cast<std::int64_t>(size));
    st->bind(6, now_s());
    TRY_DB(st->run());
  }
  if (rec->state == BlobState::kTemporary) {
    // New to the store (or still temporary): its lifecycle is ours.
    auto st = db_->prepare("INSERT OR IGNORE INTO managed_blob(hash, unreferenced_at) VALUES(?, NULL)");
    if (!st) return std::unexpected(internal(st.error()));
    st->bind(1, hex);
    TRY_DB(st->run());
  }
  TRY_DB(txn->commit());
  return {};
}

XResult<> RepoStore::pin(const Digest& hash) {
  std::lock_guard life(lifecycle_mu_);
  auto lock = db_->lock();
  auto st = db_->prepare("DELETE FROM managed_blob WHERE hash = ?");
  if (!st) return std::unexpected(internal(st.error()));
  st->bind(1, hash.hex());
  TRY_DB(st->run());
  return {};
}

XResult<> RepoStore::write_record(std::string_view did, std::string_view collection, std::string_view rkey,
                                  std::string_view cid, std::string_view value_json, std::string_view rev,
                                  const std::vector<RecordBlobRef>& refs, bool create_only) {
  std::lock_guard life(lifecycle_mu_);
  std::set<std::string> new_hashes;
  std::vector<std::string> dropped_managed;
  {
    auto lock = db_->lock();
    if (create_only) {
      auto st = prep(*db_, "SELECT 1 FROM record WHERE did = ? AND collection = ? AND rkey = ?");
      if (!st) return std::unexpected(internal(st.error()));
      st->bind(1, did).bind(2, collection).bind(3, rkey);
      auto row = st->step();
      if (!row) return std::unexpected(internal(row.error()));
      if (*row) return xfail(400, "InvalidRequest", fmt::format("Record already exists: {}/{}", collection, rkey));
    }
    for (const auto& ref : refs) {
      auto st = prep(*db_, "SELECT mime, size FROM account_blob WHERE did = ? AND hash = ?");
      if (!st) return std::unexpected(internal(st.error()));
      st->bind(1, did).bind(2, ref.hash.hex());
      auto row = st->step();
      if (!row) return std::unexpected(internal(row.error()));
      if (!*row) return xfail(400, "BlobNotFound", "Could not find blob: " + ref.cid);
      std::string mime = st->column_text(0);
      auto size = static_cast<std::uint64_t>(st->column_int64(1));
      if (mime != ref.mime_type)
        return xfail(400, "InvalidMimeType",
                     fmt::format("Referenced Mimetype does not match stored blob. Expected: {}, Got: {}", mime,
                                 ref.mime_type));
      if (size != ref.size)
        return xfail(400, "InvalidSize",
                     fmt::format("Referenced size does not match stored blob. Expected: {}, Got: {}", size, ref.size));
      new_hashes.insert(ref.hash.hex());
    }
  }
  for (const auto& ref : refs) {
    auto has = store_.contains(ref.hash);
    if (!has) return std::unexpected(to_xrpc(has.error()));
    if (!*has) return xfail(400, "BlobNotFound", "Could not find blob: " + ref.cid);
  }
  {
    auto lock = db_->lock();
    auto txn = db_->begin();
    if (!txn) return std::unexpected(internal(txn.error()));
    std::vector<std::string> old_hashes;
    {
      auto st = prep(*db_, "SELECT hash FROM record_blob WHERE did = ? AND collection = ? AND rkey = ?");
      if (!st) return std::unexpected(internal(st.error()));
      st->bind(1, did).bind(2, collection).bind(3, rkey);
      for (;;) {
        auto row = st->step();
        if (!row) return std::unexpected(internal(row.error()));
        if (!*row) break;
        old_hashes.push_back(st->column_text(0));
      }
    }
    {
      auto st = prep(*db_, "INSERT OR REPLACE INTO record(did, collection, rkey, cid, value, rev) VALUES(?,?,?,?,?,?)");
      if (!st) return std::unexpected(internal(st.error()));
      st->bind(1, did).bind(2, collection).bind(3, rkey).bind(4, cid).bind(5, value_json).bind(6, rev);
      TRY_DB(st->run());
    }
    {
      auto st = prep(*db_, "DELETE FROM record_blob WHERE did = ? AND collection = ? AND rkey = ?");
      if (!st) return std::unexpected(internal(st.error()));
      st->bind(1, did).bind(2, collection).bind(3, rkey);
      TRY_DB(st->run());
    }
    for (const auto& ref : refs) {
      auto st = prep(*db_,
                     "INSERT OR IGNORE INTO record_blob(did, collection, rkey, hash, cid, rev) VALUES(?,?,?,?,?,?)");
      if (!st) return std::unexpected(internal(st.error()));
      st->bind(1, did).bind(2, collection).bind(3, rkey).bind(4, ref.hash.hex()).bind(5, ref.cid).bind(6, rev);
      TRY_DB(st->run());
      auto m = prep(*db_, "UPDATE managed_blob SET unreferenced_at = NULL WHERE hash = ?");
      if (!m) return std::unexpected(internal(m.error()));
      m->bind(1, ref.hash.hex());
      TRY_DB(m->run());
    }
    for (const auto& h : old_hashes) {
      if (new_hashes.count(h)) continue;
      auto st = prep(*db_, "SELECT 1 FROM record_blob WHERE hash = ? LIMIT 1");
      if (!st) return std::unexpected(internal(st.error()));
      st->bind(1, h);
      auto row = st->step();
      if (!row) return std::unexpected(internal(row.error()));
      if (*row) continue;
      auto m = prep(*db_, "UPDATE managed_blob SET unreferenced_at = ? WHERE hash = ?");
      if (!m) return std::unexpected(internal(m.error()));
      m->bind(1, now_s()).bind(2, h);
      TRY_DB(m->run());
      if (db_->changes() > 0) dropped_managed.push_back(h);
    }
    TRY_DB(txn->commit());
  }
  // Store state follows the references (after our commit: a crash in between
  // leaves a referenced blob temporary, which gc repairs, never the reverse).
  for (const auto& h : new_hashes) {
    Digest d;
    if (!parse_hex_digest(h, d)) continue;
    auto rec = store_.stat(d);
    if (rec && rec->state == BlobState::kTemporary) {
      if (auto r = store_.set_state(d, BlobState::kPermanent); !r)
        spdlog::warn("cannot make blob {} permanent: {}", h, r.error().to_string());
    }
  }
  for (const auto& h : dropped_managed) {
    Digest d;
    if (!parse_hex_digest(h, d)) continue;
    if (auto r = store_.set_state(d, BlobState::kTemporary); !r && r.error().code != Errc::kNotFound)
      spdlog::warn("cannot mark blob {} temporary: {}", h, r.error().to_string());
  }
  return {};
}

XResult<bool> RepoStore::delete_record(std::string_view did, std::string_view collection, std::string_view rkey) {
  std::lock_guard life(lifecycle_mu_);
  std::vector<std::string> dropped_managed;
  bool existed = false;
  {
    auto lock = db_->lock();
    auto txn = db_->begin();
    if (!txn) return std::unexpected(internal(txn.error()));
    std::vector<std::string> old_hashes;
    {
      auto st = prep(*db_, "SELECT hash FROM record_blob WHERE did = ? AND collection = ? AND rkey = ?");
      if (!st) return std::unexpected(internal(st.error()));
      st->bind(1, did).bind(2, collection).bind(3, rkey);
      for (;;) {
        auto row = st->step();
        if (!row) return std::unexpected(internal(row.error()));
        if (!*row) break;
        old_hashes.push_back(st->column_text(0));
      }
    }
    for (const char* sql : {"DELETE FROM record WHERE did = ? AND collection = ? AND rkey = ?",
                            "DELETE FROM record_blob WHERE did = ? AND collection = ? AND rkey = ?"}) {
      auto st = prep(*db_, sql);
      if (!st) return std::unexpected(internal(st.error()));
      st->bind(1, did).bind(2, collection).bind(3, rkey);
      TRY_DB(st->run());
      if (!existed) existed = db_->changes() > 0;
    }
    for (const auto& h : old_hashes) {
      auto st = prep(*db_, "SELECT 1 FROM record_blob WHERE hash = ? LIMIT 1");
      if (!st) return std::unexpected(internal(st.error()));
      st->bind(1, h);
      auto row = st->step();
      if (!row) return std::unexpected(internal(row.error()));
      if (*row) continue;
      auto m = prep(*db_, "UPDATE managed_blob SET unreferenced_at = ? WHERE hash = ?");
      if (!m) return std::unexpected(internal(m.error()));
      m->bind(1, now_s()).bind(2, h);
      TRY_DB(m->run());
      if (db_->changes() > 0) dropped_managed.push_back(h);
    }
    TRY_DB(txn->commit());
  }
  for (const auto& h : dropped_managed) {
    Digest d;
    if (!parse_hex_digest(h, d)) continue;
    if (auto r = store_.set_state(d, BlobState::kTemporary); !r && r.error().code != Errc::kNotFound)
      spdlog::warn("cannot mark blob {} temporary: {}", h, r.error().to_string());
  }
  return existed;
}

XResult<std::optional<RecordRow>> RepoStore::get_record(std::string_view did, std::string_view collection,
                                                        std::string_view rkey) {
  auto lock = db_->lock();
  auto st = prep(*db_, "SELECT cid, value, rev FROM record WHERE did = ? AND collection = ? AND rkey = ?");
  if (!st) return std::unexpected(internal(st.error()));
  st->bind(1, did).bind(2, collection).bind(3, rkey);
  auto row = st->step();
  if (!row) return std::unexpected(internal(row.error()));
  if (!*row) return std::optional<RecordRow>();
  return std::optional<RecordRow>(
      RecordRow{std::string(collection), std::string(rkey), st->column_text(0), st->column_text(1), st->column_text(2)});
}

XResult<std::vector<RecordRow>> RepoStore::list_records(std::string_view did, std::string_view collection,
                                                        std::size_t limit, std::optional<std::string> cursor,
                                                        bool reverse) {
  auto lock = db_->lock();
  std::string sql = "SELECT rkey, cid, value, rev FROM record WHERE did = ? AND collection = ?";
  if (cursor) sql += reverse ? " AND rkey > ?" : " AND rkey < ?";
  sql += reverse ? " ORDER BY rkey ASC LIMIT ?" : " ORDER BY rkey DESC LIMIT ?";
  auto st = prep(*db_, sql);
  if (!st) return std::unexpected(internal(st.error()));
  int i = 1;
  st->bind(i++, did);
  st->bind(i++, collection);
  if (cursor) st->bind(i++, *cursor);
  st->bind(i++, static_cast<std::int64_t>(limit));
  std::vector<RecordRow> out;
  for (;;) {
    auto row = st->step();
    if (!row) return std::unexpected(internal(row.error()));
    if (!*row) break;
    out.push_back({std::string(collection), st->column_text(0), st->column_text(1), st->column_text(2),
                   st->column_text(3)});
  }
  return out;
}

XResult<bool> RepoStore::is_referenced(std::string_view did, const Digest& hash) {
  auto lock = db_->lock();
  auto st = prep(*db_, "SELECT 1 FROM record_blob WHERE did = ? AND hash = ? LIMIT 1");
  if (!st) return std::unexpected(internal(st.error()));
  st->bind(1, did).bind(2, hash.hex());
  auto row = st->step();
  if (!row) return std::unexpected(internal(row.error()));
  return *row;
}

XResult<std::optional<std::string>> RepoStore::claimed_mime(std::string_view did, const Digest& hash) {
  auto lock = db_->lock();
  auto st = prep(*db_, "SELECT mime FROM account_blob WHERE did = ? AND hash = ?");
  if (!st) return std::unexpected(internal(st.error()));
  st->bind(1, did).bind(2, hash.hex());
  auto row = st->step();
  if (!row) return std::unexpected(internal(row.error()));
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(st->column_text(0));
}

XResult<std::vector<std::string>> RepoStore::list_blobs(std::string_view did, std::optional<std::string> since,
                                                        std::optional<std::string> cursor, std::size_t limit) {
  auto lock = db_->lock();
  std::string sql = "SELECT DISTINCT cid FROM record_blob WHERE did = ?";
  if (since) sql += " AND rev > ?";
  if (cursor) sql += " AND cid > ?";
  sql += " ORDER BY cid LIMIT ?";
  auto st = prep(*db_, sql);
  if (!st) return std::unexpected(internal(st.error()));
  int i = 1;
  st->bind(i++, did);
  if (since) st->bind(i++, *since);
  if (cursor) st->bind(i++, *cursor);
  st->bind(i++, static_cast<std::int64_t>(limit));
  std::vector<std::string> out;
  for (;;) {
    auto row = st->step();
    if (!row) return std::unexpected(internal(row.error()));
    if (!*row) break;
    out.push_back(st->column_text(0));
  }
  return out;
}

XResult<std::vector<std::pair<std::string, std::string>>> RepoStore::list_missing_blobs(
    std::string_view did, std::optional<std::string> cursor, std::size_t limit) {
  auto lock = db_->lock();
  std::string sql =
      "SELECT r.cid, MIN(r.collection || '/' || r.rkey) FROM record_blob r WHERE r.did = ? AND NOT EXISTS "
      "(SELECT 1 FROM account_blob a WHERE a.did = r.did AND a.hash = r.hash)";
  if (cursor) sql += " AND r.cid > ?";
  sql += " GROUP BY r.cid ORDER BY r.cid LIMIT ?";
  auto st = prep(*db_, sql);
  if (!st) return std::unexpected(internal(st.error()));
  int i = 1;
  st->bind(i++, did);
  if (cursor) st->bind(i++, *cursor);
  st->bind(i++, static_cast<std::int64_t>(limit));
  std::vector<std::pair<std::string, std::string>> out;
  for (;;) {
    auto row = st->step();
    if (!row) return std::unexpected(internal(row.error()));
    if (!*row) break;
    out.emplace_back(st->column_text(0), fmt::format("at://{}/{}", did, st->column_text(1)));
  }
  return out;
}

Result<GcReport> RepoStore::gc(std::chrono::seconds grace) {
  std::lock_guard life(lifecycle_mu_);
  GcReport report;
  std::int64_t cutoff = now_s() - grace.count();
  struct Candidate {
    std::string hex;
    bool unreferenced;
  };
  std::vector<Candidate> candidates;
  std::set<std::string> known;  // managed or claimed: not crash leftovers
  {
    auto lock = db_->lock();
    auto txn = db_->begin();
    if (!txn) return std::unexpected(txn.error());
    {
      auto st = db_->prepare(
          "DELETE FROM account_blob WHERE uploaded_at <= ? AND NOT EXISTS (SELECT 1 FROM record_blob r "
          "WHERE r.did = account_blob.did AND r.hash = account_blob.hash)");
      if (!st) return std::unexpected(st.error());
      st->bind(1, cutoff);
      if (auto r = st->run(); !r) return std::unexpected(r.error());
      report.claims_dropped = static_cast<std::uint64_t>(db_->changes());
    }
    {
      auto st = db_->prepare(
          "SELECT hash, unreferenced_at IS NOT NULL FROM managed_blob m WHERE "
          "NOT EXISTS (SELECT 1 FROM account_blob a WHERE a.hash = m.hash) AND "
          "NOT EXISTS (SELECT 1 FROM record_blob r WHERE r.hash = m.hash)");
      if (!st) return std::unexpected(st.error());
      for (;;) {
        auto row = st->step();
        if (!row) return std::unexpected(row.error());
        if (!*row) break;
        candidates.push_back({st->column_text(0), st->column_int64(1) != 0});
      }
    }
    for (const char* sql : {"SELECT hash FROM managed_blob", "SELECT DISTINCT hash FROM account_blob"}) {
      auto st = db_->prepare(sql);
      if (!st) return std::unexpected(st.error());
      for (;;) {
        auto row = st->step();
        if (!row) return std::unexpected(row.error());
        if (!*row) break;
        known.insert(st->column_text(0));
      }
    }
    if (auto r = txn->commit(); !r) return std::unexpected(r.error());
  }
  auto forget = [&](const std::string& hex) -> Result<> {
    auto lock = db_->lock();
    auto st = db_->prepare("DELETE FROM managed_blob WHERE hash = ?");
    if (!st) return std::unexpected(st.error());
    st->bind(1, hex);
    return st->run();
  };
  for (const auto& c : candidates) {
    Digest d;
    if (!parse_hex_digest(c.hex, d)) continue;
    auto rec = store_.stat(d);
    if (!rec && rec.error().code != Errc::kNotFound) return std::unexpected(rec.error());
    if (rec && (rec->state == BlobState::kTemporary || c.unreferenced)) {
      auto r = store_.remove(d);
      if (!r && r.error().code != Errc::kNotFound) return std::unexpected(r.error());
      ++report.blobs_deleted;
      report.bytes_deleted += rec->size;
    }
    // Deleted, gone, or made permanent by someone else (CLI put): stop managing it.
    if (auto r = forget(c.hex); !r) return std::unexpected(r.error());
  }
  // Temporary store rows nobody claims (a crash between ingest and
  // note_upload) are deleted after the same grace period.
  std::optional<Digest> after;
  std::int64_t cutoff_ms = cutoff * 1000;
  for (;;) {
    auto page = store_.list(after, 1000);
    if (!page) return std::unexpected(page.error());
    for (const auto& rec : *page) {
      if (rec.state != BlobState::kTemporary || rec.created_at_ms > cutoff_ms || known.count(rec.hash.hex())) continue;
      auto r = store_.remove(rec.hash);
      if (!r && r.error().code != Errc::kNotFound) return std::unexpected(r.error());
      ++report.blobs_deleted;
      report.bytes_deleted += rec.size;
    }
    if (page->size() < 1000) break;
    after = page->back().hash;
  }
  return report;
}

}  // namespace blobsync::http
