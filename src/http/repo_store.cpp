#include "http/repo_store.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "core/blob_id.h"
#include "http/lexicon.h"
#include "store/blob_store.h"
#include "store/blob_lifecycle.h"
#include "sql/sql_db.h"

namespace blobsync::http {

namespace {

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

XrpcFailure internal(const Error& e) { return to_xrpc(Error{Errc::kInternal, e.message}); }
std::unexpected<XrpcFailure> db_error(const Error& e) { return std::unexpected(internal(e)); }

SqlBytes key(const Digest& d) { return SqlBytes{{d.bytes.data(), d.bytes.size()}}; }

// Runs `body` in one transaction; an XRPC failure it returns rolls back and
// is returned as is (a database deadlock still makes SqlDb retry the body).
XResult<> xtransaction(SqlDb& db, const std::function<XResult<>(SqlConn&)>& body) {
  std::optional<XrpcFailure> failure;
  auto r = db.transaction([&](SqlConn& c) -> Result<> {
    failure.reset();
    auto x = body(c);
    if (x) return {};
    failure = x.error();
    return make_error(Errc::kCancelled, "rolled back: " + x.error().message);
  });
  if (r) return {};
  if (failure) return std::unexpected(*failure);
  return db_error(r.error());
}

// Locks the `blobs` rows of `hashes` (hex, so the set is in hash order: two
// transactions never wait on each other in a cycle) and returns the state of
// each that exists.
XResult<std::map<std::string, BlobState>> lock_blobs(SqlConn& c, const std::set<std::string>& hashes) {
  std::string sql = "SELECT state FROM blobs WHERE hash = ?" + std::string(c.dialect().for_update());
  std::map<std::string, BlobState> out;
  for (const auto& hex : hashes) {
    Digest d;
    if (!parse_hex_digest(hex, d)) continue;
    auto r = c.query(sql, {key(d)});
    if (!r) return db_error(r.error());
    if (!r->empty()) out[hex] = static_cast<BlobState>(r->int64(0, 0));
  }
  return out;
}

XResult<std::vector<std::string>> record_hashes(SqlConn& c, std::string_view did, std::string_view collection,
                                                std::string_view rkey) {
  auto r = c.query("SELECT hash FROM record_blob WHERE did = ? AND collection = ? AND rkey = ?",
                   {did, collection, rkey});
  if (!r) return db_error(r.error());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < r->rows(); ++i) out.push_back(r->text(i, 0));
  return out;
}

}  // namespace

Result<std::unique_ptr<RepoStore>> RepoStore::open(std::shared_ptr<SqlDb> db, BlobLifecycle& lifecycle) {
  auto m = db->migrate(
      "http_repo",
      {"CREATE TABLE account_blob(did TEXT NOT NULL, hash TEXT NOT NULL, cid TEXT NOT NULL, mime TEXT NOT NULL, "
       "size ${INT} NOT NULL, uploaded_at ${INT} NOT NULL, PRIMARY KEY(did, hash));"
       "CREATE INDEX account_blob_hash ON account_blob(hash);"
       "CREATE TABLE record(did TEXT NOT NULL, collection TEXT NOT NULL, rkey ${KEY} NOT NULL, cid TEXT NOT NULL, "
       "value TEXT NOT NULL, rev ${KEY} NOT NULL, PRIMARY KEY(did, collection, rkey));"
       "CREATE TABLE record_blob(did TEXT NOT NULL, collection TEXT NOT NULL, rkey ${KEY} NOT NULL, "
       "hash TEXT NOT NULL, cid ${KEY} NOT NULL, rev ${KEY} NOT NULL, PRIMARY KEY(did, collection, rkey, hash));"
       "CREATE INDEX record_blob_hash ON record_blob(hash);"
       "CREATE INDEX record_blob_did_cid ON record_blob(did, cid);"
       "CREATE TABLE managed_blob(hash TEXT PRIMARY KEY, unreferenced_at ${INT});",
       // 2: records are holds of the store's blob lifecycle (store/blob_lifecycle.h).
       // Blobs managed here that records reference: records hold them, no legacy pin.
       // (Managed blobs made permanent by a room upload, not by a record, keep it.)
       "DELETE FROM blob_hold WHERE holder = 'pin:legacy' AND ${HEX(hash)} IN (SELECT hash FROM managed_blob) "
       "AND ${HEX(hash)} IN (SELECT hash FROM record_blob);"
       "DROP TABLE managed_blob;",
       // 3: a claim made by PUT /blobs (pinned) never expires: it counts against
       // the account's quota for as long as the blob stays (docs/security.md, "Quotas").
       "ALTER TABLE account_blob ADD COLUMN pinned ${INT} NOT NULL DEFAULT 0;"});
  if (!m) return std::unexpected(m.error());
  std::unique_ptr<RepoStore> repo(new RepoStore(std::move(db), lifecycle));
  lifecycle.add_source(repo.get());
  return repo;
}

XResult<> RepoStore::note_upload(std::string_view did, const Digest& hash, std::string_view mime_type,
                                 std::uint64_t size, bool pinned) {
  std::string hex = hash.hex();
  return xtransaction(*db_, [&](SqlConn& c) -> XResult<> {
    auto states = lock_blobs(c, {hex});
    if (!states) return std::unexpected(states.error());
    if (states->empty())
      return xfail(400, "BlobNotFound", "The blob was deleted while it was being uploaded; upload it again");
    if (auto claim = claim_upload(c, did, hash, mime_type, size, pinned); !claim) return db_error(claim.error());
    return {};
  });
}

Result<> RepoStore::claim_upload(SqlConn& c, std::string_view did, const Digest& hash, std::string_view mime_type,
                                 std::uint64_t size, bool pinned) {
  std::string hex = hash.hex();
  std::string cid = to_cid(hash);
  auto claim = c.query(
      "INSERT INTO account_blob(did, hash, cid, mime, size, uploaded_at, pinned) VALUES(?,?,?,?,?,?,?) "
      "ON CONFLICT(did, hash) DO UPDATE SET uploaded_at = excluded.uploaded_at, mime = excluded.mime, "
      "pinned = CASE WHEN excluded.pinned = 1 THEN 1 ELSE account_blob.pinned END",
      {did, std::string_view(hex), std::string_view(cid), mime_type, static_cast<std::int64_t>(size), now_s(),
       std::int64_t{pinned ? 1 : 0}});
  if (!claim) return std::unexpected(claim.error());
  return {};
}

XResult<> RepoStore::write_record(std::string_view did, std::string_view collection, std::string_view rkey,
                                  std::string_view cid, std::string_view value_json, std::string_view rev,
                                  const std::vector<RecordBlobRef>& refs, bool create_only) {
  std::set<std::string> new_hashes;
  for (const auto& ref : refs) new_hashes.insert(ref.hash.hex());
  return xtransaction(*db_, [&](SqlConn& c) -> XResult<> {
    // The record row first: concurrent writes of one record queue here.
    auto rec = create_only
                   ? c.query("INSERT INTO record(did, collection, rkey, cid, value, rev) VALUES(?,?,?,?,?,?) "
                             "ON CONFLICT(did, collection, rkey) DO NOTHING",
                             {did, collection, rkey, cid, value_json, rev})
                   : c.query("INSERT INTO record(did, collection, rkey, cid, value, rev) VALUES(?,?,?,?,?,?) "
                             "ON CONFLICT(did, collection, rkey) DO UPDATE SET cid = excluded.cid, "
                             "value = excluded.value, rev = excluded.rev",
                             {did, collection, rkey, cid, value_json, rev});
    if (!rec) return db_error(rec.error());
    if (create_only && rec->affected() == 0)
      return xfail(400, "InvalidRequest", fmt::format("Record already exists: {}/{}", collection, rkey));
    auto old_hashes = record_hashes(c, did, collection, rkey);
    if (!old_hashes) return std::unexpected(old_hashes.error());
    std::set<std::string> touched = new_hashes;
    touched.insert(old_hashes->begin(), old_hashes->end());
    auto states = lock_blobs(c, touched);
    if (!states) return std::unexpected(states.error());
    for (const auto& ref : refs) {
      auto claim = c.query("SELECT mime, size FROM account_blob WHERE did = ? AND hash = ?",
                           {did, std::string_view(ref.hash.hex())});
      if (!claim) return db_error(claim.error());
      if (claim->empty() || !states->count(ref.hash.hex()))
        return xfail(400, "BlobNotFound", "Could not find blob: " + ref.cid);
      std::string mime = claim->text(0, 0);
      auto size = static_cast<std::uint64_t>(claim->int64(0, 1));
      if (mime != ref.mime_type)
        return xfail(400, "InvalidMimeType",
                     fmt::format("Referenced Mimetype does not match stored blob. Expected: {}, Got: {}", mime,
                                 ref.mime_type));
      if (size != ref.size)
        return xfail(400, "InvalidSize",
                     fmt::format("Referenced size does not match stored blob. Expected: {}, Got: {}", size, ref.size));
      for (const auto& limit : ref.slot_limits) {
        if (limit.max_size && size > *limit.max_size)
          return xfail(400, "BlobTooLarge",
                       fmt::format("This file is too large. It is {} bytes but the maximum size is {} bytes.", size,
                                   *limit.max_size));
        if (!limit.accept.empty() && !mime_accepted(mime, limit.accept))
          return xfail(400, "InvalidMimeType", fmt::format("Wrong type of file. It is {} but it must match {}.", mime,
                                                           fmt::join(limit.accept, ", ")));
      }
    }
    if (auto r = c.query("DELETE FROM record_blob WHERE did = ? AND collection = ? AND rkey = ?",
                         {did, collection, rkey});
        !r)
      return db_error(r.error());
    for (const auto& ref : refs) {
      auto r = c.query(
          "INSERT INTO record_blob(did, collection, rkey, hash, cid, rev) VALUES(?,?,?,?,?,?) ON CONFLICT DO NOTHING",
          {did, collection, rkey, std::string_view(ref.hash.hex()), std::string_view(ref.cid), rev});
      if (!r) return db_error(r.error());
    }
    // Referenced blobs are permanent, in the same transaction as the reference
    // (a blob the sweeper is collecting comes back: its last step leaves it).
    for (const auto& hex : new_hashes) {
      Digest d;
      if (states->at(hex) != BlobState::kPermanent && parse_hex_digest(hex, d)) {
        if (auto r = c.query("UPDATE blobs SET state = 1, unheld_at_ms = NULL WHERE hash = ?", {key(d)}); !r)
          return db_error(r.error());
      }
    }
    for (const auto& hex : *old_hashes) {
      if (new_hashes.count(hex)) continue;
      if (auto r = release(c, hex, *states); !r) return r;
    }
    return {};
  });
}

XResult<bool> RepoStore::delete_record(std::string_view did, std::string_view collection, std::string_view rkey) {
  bool existed = false;
  auto r = xtransaction(*db_, [&](SqlConn& c) -> XResult<> {
    // The record row first (as write_record), then its blobs in hash order.
    auto rec = c.query("DELETE FROM record WHERE did = ? AND collection = ? AND rkey = ?", {did, collection, rkey});
    if (!rec) return db_error(rec.error());
    existed = rec->affected() > 0;
    auto old_hashes = record_hashes(c, did, collection, rkey);
    if (!old_hashes) return std::unexpected(old_hashes.error());
    auto refs = c.query("DELETE FROM record_blob WHERE did = ? AND collection = ? AND rkey = ?", {did, collection, rkey});
    if (!refs) return db_error(refs.error());
    existed = existed || refs->affected() > 0;
    auto states = lock_blobs(c, std::set<std::string>(old_hashes->begin(), old_hashes->end()));
    if (!states) return std::unexpected(states.error());
    for (const auto& hex : *old_hashes) {
      if (auto x = release(c, hex, *states); !x) return x;
    }
    return {};
  });
  if (!r) return std::unexpected(r.error());
  return existed;
}

XResult<std::size_t> RepoStore::delete_account(std::string_view did) {
  std::size_t records = 0;
  auto r = xtransaction(*db_, [&](SqlConn& c) -> XResult<> {
    // Record rows first (as write_record), then the blobs in hash order.
    auto rec = c.query("DELETE FROM record WHERE did = ?", {did});
    if (!rec) return db_error(rec.error());
    records = static_cast<std::size_t>(rec->affected());
    std::set<std::string> hashes;
    for (const char* sql : {"SELECT DISTINCT hash FROM record_blob WHERE did = ?",
                            "SELECT hash FROM account_blob WHERE did = ?"}) {
      auto q = c.query(sql, {did});
      if (!q) return db_error(q.error());
      for (std::size_t i = 0; i < q->rows(); ++i) hashes.insert(q->text(i, 0));
    }
    auto states = lock_blobs(c, hashes);
    if (!states) return std::unexpected(states.error());
    for (const char* sql : {"DELETE FROM record_blob WHERE did = ?", "DELETE FROM account_blob WHERE did = ?"}) {
      if (auto x = c.query(sql, {did}); !x) return db_error(x.error());
    }
    for (const auto& hex : hashes) {
      if (auto x = release(c, hex, *states); !x) return x;
    }
    return {};
  });
  if (!r) return std::unexpected(r.error());
  return records;
}

XResult<std::optional<RecordRow>> RepoStore::get_record(std::string_view did, std::string_view collection,
                                                        std::string_view rkey) {
  auto r = db_->read("SELECT cid, value, rev FROM record WHERE did = ? AND collection = ? AND rkey = ?",
                     {did, collection, rkey});
  if (!r) return db_error(r.error());
  if (r->empty()) return std::optional<RecordRow>();
  return std::optional<RecordRow>(
      RecordRow{std::string(collection), std::string(rkey), r->text(0, 0), r->text(0, 1), r->text(0, 2)});
}

XResult<std::vector<RecordRow>> RepoStore::list_records(std::string_view did, std::string_view collection,
                                                        std::size_t limit, std::optional<std::string> cursor,
                                                        bool reverse) {
  std::string sql = "SELECT rkey, cid, value, rev FROM record WHERE did = ? AND collection = ?";
  if (cursor) sql += reverse ? " AND rkey > ?" : " AND rkey < ?";
  sql += reverse ? " ORDER BY rkey ASC LIMIT ?" : " ORDER BY rkey DESC LIMIT ?";
  std::vector<SqlParam> params = {did, collection};
  if (cursor) params.emplace_back(std::string_view(*cursor));
  params.emplace_back(static_cast<std::int64_t>(limit));
  auto r = db_->read(sql, params);
  if (!r) return db_error(r.error());
  std::vector<RecordRow> out;
  for (std::size_t i = 0; i < r->rows(); ++i)
    out.push_back({std::string(collection), r->text(i, 0), r->text(i, 1), r->text(i, 2), r->text(i, 3)});
  return out;
}

XResult<std::uint64_t> RepoStore::usage(std::string_view did) {
  // Bytes, not characters, of the stored JSON.
  std::string record_bytes = db_->dialect().postgres() ? "octet_length(value)" : "length(CAST(value AS BLOB))";
  auto r = db_->read("SELECT (SELECT COALESCE(SUM(size), 0) FROM account_blob WHERE did = ?), (SELECT COALESCE(SUM(" +
                         record_bytes + "), 0) FROM record WHERE did = ?)",
                     {did, did});
  if (!r) return db_error(r.error());
  return static_cast<std::uint64_t>(std::max<std::int64_t>(0, r->int64(0, 0))) +
         static_cast<std::uint64_t>(std::max<std::int64_t>(0, r->int64(0, 1)));
}

XResult<bool> RepoStore::has_claim(std::string_view did, const Digest& hash) {
  auto r = db_->read("SELECT 1 FROM account_blob WHERE did = ? AND hash = ?", {did, std::string_view(hash.hex())});
  if (!r) return db_error(r.error());
  return !r->empty();
}

XResult<std::uint64_t> RepoStore::record_bytes(std::string_view did, std::string_view collection,
                                               std::string_view rkey) {
  auto row = get_record(did, collection, rkey);
  if (!row) return std::unexpected(row.error());
  return *row ? (*row)->value_json.size() : 0;
}

Result<> RepoStore::forget_blob(const Digest& hash) {
  auto r = db_->query("DELETE FROM account_blob WHERE hash = ?", {std::string_view(hash.hex())});
  if (!r) return std::unexpected(r.error());
  return {};
}

XResult<bool> RepoStore::is_referenced(std::string_view did, const Digest& hash) {
  auto r = db_->read("SELECT 1 FROM record_blob WHERE did = ? AND hash = ? LIMIT 1",
                     {did, std::string_view(hash.hex())});
  if (!r) return db_error(r.error());
  return !r->empty();
}

XResult<std::optional<std::string>> RepoStore::claimed_mime(std::string_view did, const Digest& hash) {
  auto r = db_->read("SELECT mime FROM account_blob WHERE did = ? AND hash = ?", {did, std::string_view(hash.hex())});
  if (!r) return db_error(r.error());
  if (r->empty()) return std::optional<std::string>();
  return std::optional<std::string>(r->text(0, 0));
}

XResult<std::vector<std::string>> RepoStore::list_blobs(std::string_view did, std::optional<std::string> since,
                                                        std::optional<std::string> cursor, std::size_t limit) {
  std::string sql = "SELECT DISTINCT cid FROM record_blob WHERE did = ?";
  std::vector<SqlParam> params = {did};
  if (since) {
    sql += " AND rev > ?";
    params.emplace_back(std::string_view(*since));
  }
  if (cursor) {
    sql += " AND cid > ?";
    params.emplace_back(std::string_view(*cursor));
  }
  sql += " ORDER BY cid LIMIT ?";
  params.emplace_back(static_cast<std::int64_t>(limit));
  auto r = db_->read(sql, params);
  if (!r) return db_error(r.error());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < r->rows(); ++i) out.push_back(r->text(i, 0));
  return out;
}

XResult<std::vector<std::pair<std::string, std::string>>> RepoStore::list_missing_blobs(
    std::string_view did, std::optional<std::string> cursor, std::size_t limit) {
  std::string sql =
      "SELECT r.cid, MIN(r.collection || '/' || r.rkey) FROM record_blob r WHERE r.did = ? AND NOT EXISTS "
      "(SELECT 1 FROM account_blob a WHERE a.did = r.did AND a.hash = r.hash)";
  std::vector<SqlParam> params = {did};
  if (cursor) {
    sql += " AND r.cid > ?";
    params.emplace_back(std::string_view(*cursor));
  }
  sql += " GROUP BY r.cid ORDER BY r.cid LIMIT ?";
  params.emplace_back(static_cast<std::int64_t>(limit));
  auto r = db_->read(sql, params);
  if (!r) return db_error(r.error());
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i < r->rows(); ++i)
    out.emplace_back(r->text(i, 0), fmt::format("at://{}/{}", did, r->text(i, 1)));
  return out;
}

XResult<> RepoStore::release(SqlConn& c, const std::string& hex, const std::map<std::string, BlobState>& states) {
  Digest d;
  if (!states.count(hex) || !parse_hex_digest(hex, d)) return {};
  if (auto r = lifecycle_.release_if_unheld(c, d); !r) return db_error(r.error());
  return {};
}

Result<std::vector<std::string>> RepoStore::holds(SqlConn& c, const Digest& hash, std::size_t limit) {
  auto r = c.query("SELECT did, collection, rkey FROM record_blob WHERE hash = ? ORDER BY did, collection, rkey LIMIT ?",
                   {std::string_view(hash.hex()), static_cast<std::int64_t>(limit)});
  if (!r) return std::unexpected(r.error());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < r->rows(); ++i)
    out.push_back(fmt::format("record:at://{}/{}/{}", r->text(i, 0), r->text(i, 1), r->text(i, 2)));
  return out;
}

Result<> RepoStore::on_collect(SqlConn& c, const Digest& hash) {
  auto r = c.query("DELETE FROM account_blob WHERE hash = ?", {std::string_view(hash.hex())});
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<> RepoStore::expire(std::int64_t cutoff_s) {
  // Claims older than the grace period that no record of that account uses:
  // the account must upload the blob again before it can reference it.
  auto r = db_->query(
      "DELETE FROM account_blob WHERE uploaded_at <= ? AND pinned = 0 AND NOT EXISTS (SELECT 1 FROM record_blob r "
      "WHERE r.did = account_blob.did AND r.hash = account_blob.hash)",
      {cutoff_s});
  if (!r) return std::unexpected(r.error());
  claims_dropped_ += static_cast<std::uint64_t>(r->affected());
  return {};
}

}  // namespace blobsync::http
