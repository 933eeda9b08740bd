#include "store/sql_metadata.h"

#include <algorithm>
#include <cstring>
#include <random>

#include "core/blob_id.h"
#include "core/filename.h"

namespace blobsync {

namespace {

SqlBytes key(const Digest& d) { return SqlBytes{{d.bytes.data(), d.bytes.size()}}; }

constexpr const char* kColumns = "hash, size, mime_type, chunk_count, created_at_ms, state, quarantine, filename";

// Reads row `i` in kColumns order (plus chunk_hashes at index 8 if `with_chunks`).
Result<BlobRecord> read_row(const SqlResult& res, std::size_t i, bool with_chunks) {
  BlobRecord r;
  auto hash = res.bytes(i, 0);
  if (hash.size() != r.hash.bytes.size())
    return fail(Errc::kCorruption, "metadata: hash column has {} bytes", hash.size());
  std::memcpy(r.hash.bytes.data(), hash.data(), hash.size());
  r.size = static_cast<std::uint64_t>(res.int64(i, 1));
  r.mime_type = res.text(i, 2);
  r.chunk_count = static_cast<std::uint64_t>(res.int64(i, 3));
  r.created_at_ms = res.int64(i, 4);
  std::int64_t state = res.int64(i, 5);
  r.state = state == 0 ? BlobState::kTemporary : state == 2 ? BlobState::kDeleting : BlobState::kPermanent;
  r.quarantine = res.text(i, 6);
  r.filename = res.text(i, 7);
  if (with_chunks) {
    auto blob = res.bytes(i, 8);
    if (blob.size() != r.chunk_count * 32)
      return fail(Errc::kCorruption, "metadata: blob {} has {} bytes of chunk hashes for {} chunks", to_hash_ref(r.hash),
                  blob.size(), r.chunk_count);
    r.chunk_hashes.resize(r.chunk_count);
    for (std::size_t c = 0; c < r.chunk_count; ++c) std::memcpy(r.chunk_hashes[c].bytes.data(), blob.data() + 32 * c, 32);
  }
  return r;
}

}  // namespace

const std::vector<std::string>& SqlMetadata::migrations() {
  static const std::vector<std::string> steps = {
      // 1: the blob index.
      "CREATE TABLE blobs ("
      "  hash ${BYTES} PRIMARY KEY CHECK (length(hash) = 32),"
      "  size ${INT} NOT NULL CHECK (size >= 0),"
      "  mime_type TEXT NOT NULL,"
      "  chunk_count ${INT} NOT NULL,"
      "  chunk_hashes ${BYTES} NOT NULL CHECK (length(chunk_hashes) = 32 * chunk_count),"
      "  created_at_ms ${INT} NOT NULL,"
      "  state ${INT} NOT NULL DEFAULT 1,"
      "  owner TEXT"
      ");"
      "CREATE INDEX blobs_by_state_created ON blobs(state, created_at_ms);",
      // 2: one lifecycle for every blob (store/blob_lifecycle.h) and quarantine.
      // Blobs that were permanent before keep a "pin:legacy" hold, so an
      // upgrade collects nothing that the old rules kept.
      "ALTER TABLE blobs ADD COLUMN unheld_at_ms ${INT};"
      "ALTER TABLE blobs ADD COLUMN quarantine TEXT;"
      "CREATE TABLE blob_hold ("
      "  hash ${BYTES} NOT NULL CHECK (length(hash) = 32),"
      "  holder TEXT NOT NULL,"
      "  since_ms ${INT} NOT NULL,"
      "  PRIMARY KEY (hash, holder)"
      ");"
      "CREATE INDEX blob_hold_by_holder ON blob_hold(holder);"
      "INSERT INTO blob_hold(hash, holder, since_ms) SELECT hash, 'pin:legacy', created_at_ms FROM blobs WHERE state = 1;",
      // 3: bytes whose row the sweeper deleted, until the bytes are gone too
      // (a crash in between is finished by the next sweep).
      "CREATE TABLE blob_gone (hash ${BYTES} PRIMARY KEY CHECK (length(hash) = 32));",
      // 4: running totals, so stats() and count_quarantined() read a few
      // rows instead of scanning `blobs` (the one scan is here, once).
      // Several rows (slots) whose sums are the totals: each write
      // transaction adds its delta to one slot, so servers sharing a
      // PostgreSQL database rarely wait on each other's row.
      "CREATE TABLE blob_totals ("
      "  slot ${INT} PRIMARY KEY,"
      "  blob_count ${INT} NOT NULL,"
      "  total_bytes ${INT} NOT NULL,"
      "  quarantined ${INT} NOT NULL"
      ");"
      "INSERT INTO blob_totals(slot, blob_count, total_bytes, quarantined) "
      "SELECT 0, count(*), coalesce(sum(size), 0), "
      "  coalesce(sum(CASE WHEN quarantine IS NOT NULL AND quarantine <> '' THEN 1 ELSE 0 END), 0) FROM blobs;",
      // 5: the first filename an upload gave (blob channel UPLOAD, PUT /blobs
      // ?name=): `blobsync stat`, and Content-Disposition on ?download=1.
      "ALTER TABLE blobs ADD COLUMN filename TEXT;",
      // 6: pending notes (docs/architecture.md, "Durable commit"): rows that
      // committed while their bytes were being flushed; re-verified at open.
      "CREATE TABLE blob_pending ("
      "  hash ${BYTES} PRIMARY KEY CHECK (length(hash) = 32),"
      "  token ${INT} NOT NULL"
      ");",
  };
  return steps;
}

Result<std::unique_ptr<SqlMetadata>> SqlMetadata::open(std::shared_ptr<SqlDb> db) {
  if (auto r = db->migrate("blobs", migrations()); !r) return std::unexpected(r.error());
  return std::unique_ptr<SqlMetadata>(new SqlMetadata(std::move(db)));
}

Result<> SqlMetadata::add_totals(SqlConn& c, const BlobTotalsDelta& d) {
  if (d.blob_count == 0 && d.total_bytes == 0 && d.quarantined == 0) return {};
  // A slot per thread, spread at random: two transactions rarely share one.
  // Updated last in the transaction, after every `blobs` row it locks, so
  // lock order stays "blob rows, then one slot" and cannot deadlock.
  thread_local const std::int64_t slot = static_cast<std::int64_t>(std::random_device{}() % kTotalsSlots);
  auto r = c.query(
      "INSERT INTO blob_totals(slot, blob_count, total_bytes, quarantined) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (slot) DO UPDATE SET blob_count = blob_totals.blob_count + excluded.blob_count, "
      "total_bytes = blob_totals.total_bytes + excluded.total_bytes, "
      "quarantined = blob_totals.quarantined + excluded.quarantined",
      {slot, d.blob_count, d.total_bytes, d.quarantined});
  if (!r) return std::unexpected(r.error());
  return {};
}

namespace {

bool quarantined(const SqlResult& res, std::size_t row, std::size_t col) { return !res.text(row, col).empty(); }

// The row of one insert_blob, run inside a transaction: INSERT ... ON
// CONFLICT DO NOTHING, then the lifecycle rules for an existing row (see
// MetadataStore::insert_blob). Sets `inserted` to whether this call created the row.
Result<> insert_row(SqlConn& c, const BlobRecord& record, std::string_view hold, const std::vector<std::uint8_t>& chunks,
                    bool& inserted, BlobTotalsDelta& totals) {
  std::int64_t state = static_cast<std::int64_t>(record.state == BlobState::kPermanent ? BlobState::kPermanent
                                                                                       : BlobState::kTemporary);
  if (!hold.empty()) {
    auto h = c.query("INSERT INTO blob_hold(hash, holder, since_ms) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                     {key(record.hash), hold, record.created_at_ms});
    if (!h) return std::unexpected(h.error());
    state = 1;
  } else if (state == 0) {
    // Holds may come before the blob (a room listed it, then it arrived).
    auto h = c.query("SELECT 1 FROM blob_hold WHERE hash = ? LIMIT 1", {key(record.hash)});
    if (!h) return std::unexpected(h.error());
    if (!h->empty()) state = 1;
  }
  // A concurrent insert of the same hash (another server) waits here on the
  // key and then does nothing: exactly one of them inserts.
  std::string filename = sanitize_filename(record.filename);
  auto ins = c.query(
      "INSERT INTO blobs(hash, size, mime_type, chunk_count, chunk_hashes, created_at_ms, state, filename) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, NULLIF(?, '')) ON CONFLICT (hash) DO NOTHING",
      {key(record.hash), static_cast<std::int64_t>(record.size), std::string_view(record.mime_type),
       static_cast<std::int64_t>(record.chunk_count), SqlBytes{chunks}, record.created_at_ms, state,
       std::string_view(filename)});
  if (!ins) return std::unexpected(ins.error());
  inserted = ins->affected() > 0;
  if (!inserted && !filename.empty()) {
    // The first name seen wins: an existing row takes one only if it has none.
    auto named = c.query("UPDATE blobs SET filename = ? WHERE hash = ? AND (filename IS NULL OR filename = '')",
                         {std::string_view(filename), key(record.hash)});
    if (!named) return std::unexpected(named.error());
  }
  if (inserted) {
    ++totals.blob_count;
    totals.total_bytes += static_cast<std::int64_t>(record.size);
    return {};
  }
  // Held: permanent (also brings a kDeleting row back). Temporary over
  // temporary or kDeleting: a new grace period from now.
  auto upd = state == 1 ? c.query("UPDATE blobs SET state = 1 WHERE hash = ? AND state <> 1", {key(record.hash)})
                        : c.query("UPDATE blobs SET state = 0, created_at_ms = ?, unheld_at_ms = NULL "
                                  "WHERE hash = ? AND (state = 2 OR (state = 0 AND created_at_ms < ?))",
                                  {record.created_at_ms, key(record.hash), record.created_at_ms});
  if (!upd) return std::unexpected(upd.error());
  return {};
}

// The note of a row whose bytes are being flushed, in the row's transaction.
Result<> insert_note(SqlConn& c, const Digest& hash, std::int64_t note) {
  if (note == 0) return {};
  auto r = c.query("INSERT INTO blob_pending(hash, token) VALUES (?, ?) "
                   "ON CONFLICT (hash) DO UPDATE SET token = excluded.token",
                   {key(hash), note});
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<> delete_notes(SqlConn& c, const std::vector<std::pair<Digest, std::int64_t>>& notes) {
  for (const auto& [hash, token] : notes) {
    auto r = c.query("DELETE FROM blob_pending WHERE hash = ? AND token = ?", {key(hash), token});
    if (!r) return std::unexpected(r.error());
  }
  return {};
}

}  // namespace

struct SqlMetadata::PendingInsert {
  const BlobRecord* record;
  std::string_view hold;
  std::vector<std::uint8_t> chunks;
  const MetadataStore::RowHook* with_row;  // may be empty
  std::int64_t note = 0;
  Result<bool> result = false;
  bool done = false;     // guarded by group_mu_
  bool waiting = false;  // guarded by group_mu_: asleep on `cv`
  std::condition_variable cv{};  // its own: a group wakes only its callers
};

Result<bool> SqlMetadata::insert_blob(const BlobRecord& record, std::string_view hold) {
  return insert_blob_with(record, hold, {});
}

Result<bool> SqlMetadata::insert_blob_with(const BlobRecord& record, std::string_view hold, const RowHook& with_row) {
  return insert_blob_noted(record, hold, with_row, 0, {});
}

Result<std::optional<std::int64_t>> SqlMetadata::pending_note(const Digest& hash) {
  auto res = db_->read("SELECT token FROM blob_pending WHERE hash = ?", {key(hash)});
  if (!res) return std::unexpected(res.error());
  if (res->empty()) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(res->int64(0, 0));
}

void SqlMetadata::note_flushed(const Digest& hash, std::int64_t note) {
  std::lock_guard g(group_mu_);
  flushed_notes_.emplace_back(hash, note);
}

Result<> SqlMetadata::flush_notes() {
  std::vector<std::pair<Digest, std::int64_t>> notes;
  {
    std::lock_guard g(group_mu_);
    notes = std::exchange(flushed_notes_, {});
  }
  if (notes.empty()) return {};
  auto r = db_->transaction([&](SqlConn& c) { return delete_notes(c, notes); });
  if (!r) requeue_notes(std::move(notes));
  return r;
}

void SqlMetadata::requeue_notes(std::vector<std::pair<Digest, std::int64_t>> notes) {
  std::lock_guard g(group_mu_);
  flushed_notes_.insert(flushed_notes_.end(), notes.begin(), notes.end());
}

Result<std::vector<std::pair<Digest, std::int64_t>>> SqlMetadata::pending_notes() {
  auto res = db_->read("SELECT hash, token FROM blob_pending ORDER BY hash");
  if (!res) return std::unexpected(res.error());
  std::vector<std::pair<Digest, std::int64_t>> out;
  for (std::size_t i = 0; i < res->rows(); ++i) {
    auto hash = res->bytes(i, 0);
    Digest d;
    if (hash.size() != d.bytes.size()) return fail(Errc::kCorruption, "metadata: pending note of {} bytes", hash.size());
    std::memcpy(d.bytes.data(), hash.data(), hash.size());
    out.emplace_back(d, res->int64(i, 1));
  }
  return out;
}

Result<> SqlMetadata::clear_note(const Digest& hash, std::int64_t note) {
  return db_->transaction([&](SqlConn& c) { return delete_notes(c, {{hash, note}}); });
}

Result<bool> SqlMetadata::insert_blob_noted(const BlobRecord& record, std::string_view hold, const RowHook& with_row,
                                            std::int64_t note, const Meanwhile& meanwhile) {
  if (record.chunk_hashes.size() != record.chunk_count) {
    if (meanwhile) meanwhile(false);
    return fail(Errc::kInternal, "insert_blob: {} chunk hashes for {} chunks", record.chunk_hashes.size(),
                record.chunk_count);
  }
  PendingInsert me{&record, hold, std::vector<std::uint8_t>(record.chunk_hashes.size() * 32), &with_row, note};
  for (std::size_t i = 0; i < record.chunk_hashes.size(); ++i)
    std::memcpy(me.chunks.data() + 32 * i, record.chunk_hashes[i].bytes.data(), 32);
  std::unique_lock lock(group_mu_);
  group_queue_.push_back(&me);
  if (meanwhile) {
    if (!group_running_) {
      meanwhile(true);  // hands its work off (under the lock: we lead this group)
      run_group(lock);
    } else {
      lock.unlock();
      meanwhile(false);
      lock.lock();
    }
  }
  // Group commit: whoever finds no commit running takes every insert
  // queued so far into one transaction, on its own thread.
  while (!me.done) {
    if (!group_running_) {
      run_group(lock);
      continue;
    }
    me.waiting = true;
    me.cv.wait(lock);
    me.waiting = false;
  }
  return std::move(me.result);
}

void SqlMetadata::run_group(std::unique_lock<std::mutex>& lock) {
  group_running_ = true;
  auto batch = std::exchange(group_queue_, {});
  lock.unlock();
  commit_group(batch);
  lock.lock();
  group_running_ = false;
  // Under the lock: a caller may return (and free its entry) once it sees done.
  for (auto* p : batch) {
    p->done = true;
    if (p->waiting) p->cv.notify_one();
  }
  // Rows queued meanwhile: one of their callers asleep leads the next group
  // (one busy with its own work leads it when done, unless a newcomer has).
  for (auto* p : group_queue_)
    if (p->waiting) {
      p->cv.notify_one();
      break;
    }
}

void SqlMetadata::commit_group(std::vector<PendingInsert*>& batch) {
  // Notes whose bytes are durable now go with this group's transaction (no
  // commit of their own); back in the queue if it fails.
  std::vector<std::pair<Digest, std::int64_t>> notes;
  {
    std::lock_guard g(group_mu_);
    notes = std::exchange(flushed_notes_, {});
  }
  struct Requeue {
    SqlMetadata* self;
    std::vector<std::pair<Digest, std::int64_t>>* notes;
    ~Requeue() {
      if (!notes->empty()) self->requeue_notes(std::move(*notes));
    }
  } requeue{this, &notes};
  // One commit (one WAL fsync on SQLite) for the whole group. Rows in hash
  // order, so two servers' groups on one PostgreSQL database cannot deadlock.
  if (batch.size() > 1) {
    std::sort(batch.begin(), batch.end(),
              [](const PendingInsert* a, const PendingInsert* b) { return a->record->hash < b->record->hash; });
    auto r = db_->transaction([&](SqlConn& c) -> Result<> {
      BlobTotalsDelta totals;  // per attempt: transaction() may run the body again
      if (auto d = delete_notes(c, notes); !d) return d;
      for (auto* p : batch) {
        bool inserted = false;
        if (auto one = insert_row(c, *p->record, p->hold, p->chunks, inserted, totals); !one) return one;
        if (auto n = insert_note(c, p->record->hash, p->note); !n) return n;
        if (*p->with_row)
          if (auto hook = (*p->with_row)(c); !hook) return hook;
        p->result = inserted;
      }
      return add_totals(c, totals);
    });
    if (r) {
      notes.clear();
      return;
    }
    // Some row (or its hook) failed and took the group with it: each on its
    // own, so the error reaches only its own caller.
  }
  for (auto* p : batch) {
    bool inserted = false;
    // The queued notes ride with the first row (a second commit of their
    // own would be a second flush in the puts' path); again without them
    // if that fails.
    bool carry = !notes.empty() && batch.size() == 1;
    auto body = [&](SqlConn& c) -> Result<> {
      BlobTotalsDelta totals;
      if (carry)
        if (auto d = delete_notes(c, notes); !d) return d;
      if (auto one = insert_row(c, *p->record, p->hold, p->chunks, inserted, totals); !one) return one;
      if (auto n = insert_note(c, p->record->hash, p->note); !n) return n;
      if (*p->with_row)
        if (auto hook = (*p->with_row)(c); !hook) return hook;
      return add_totals(c, totals);
    };
    auto r = db_->transaction(body);
    if (carry) {
      if (r) notes.clear();
      carry = false;
      if (!r) r = db_->transaction(body);
    }
    p->result = r ? Result<bool>(inserted) : Result<bool>(std::unexpected(r.error()));
  }
  // Notes not deleted go back to the queue (`requeue`) for the next group.
}

Result<std::optional<BlobRecord>> SqlMetadata::get_blob(const Digest& hash) {
  static const std::string sql = fmt::format("SELECT {}, chunk_hashes FROM blobs WHERE hash = ?", kColumns);
  auto res = db_->read(sql, {key(hash)});
  if (!res) return std::unexpected(res.error());
  if (res->empty()) return std::optional<BlobRecord>();
  auto rec = read_row(*res, 0, true);
  if (!rec) return std::unexpected(rec.error());
  return std::optional<BlobRecord>(std::move(*rec));
}

Result<> SqlMetadata::set_state(const Digest& hash, BlobState state) {
  auto res = db_->query("UPDATE blobs SET state = ? WHERE hash = ?", {static_cast<std::int64_t>(state), key(hash)});
  if (!res) return std::unexpected(res.error());
  if (res->affected() == 0) return fail(Errc::kNotFound, "blob {} is not stored", to_hash_ref(hash));
  return {};
}

Result<> SqlMetadata::set_quarantine(const Digest& hash, std::string_view reason) {
  return db_->transaction([&](SqlConn& c) -> Result<> {
    auto old = c.query("SELECT quarantine FROM blobs WHERE hash = ?" + std::string(c.dialect().for_update()), {key(hash)});
    if (!old) return std::unexpected(old.error());
    if (old->empty()) return fail(Errc::kNotFound, "blob {} is not stored", to_hash_ref(hash));
    // NULL, not "", when clear: the column's meaning since migration 2.
    auto res = reason.empty() ? c.query("UPDATE blobs SET quarantine = NULL WHERE hash = ?", {key(hash)})
                              : c.query("UPDATE blobs SET quarantine = ? WHERE hash = ?", {reason, key(hash)});
    if (!res) return std::unexpected(res.error());
    BlobTotalsDelta d;
    d.quarantined = (reason.empty() ? 0 : 1) - (quarantined(*old, 0, 0) ? 1 : 0);
    return add_totals(c, d);
  });
}

Result<> SqlMetadata::set_filename(const Digest& hash, std::string_view name) {
  std::string kept = sanitize_filename(name);
  if (kept.empty()) return {};
  auto res = db_->query("UPDATE blobs SET filename = ? WHERE hash = ? AND (filename IS NULL OR filename = '')",
                        {std::string_view(kept), key(hash)});
  if (!res) return std::unexpected(res.error());
  return {};
}

Result<std::uint64_t> SqlMetadata::count_quarantined() {
  auto res = db_->read("SELECT coalesce(sum(quarantined), 0) FROM blob_totals");
  if (!res) return std::unexpected(res.error());
  return res->empty() ? 0 : static_cast<std::uint64_t>(std::max<std::int64_t>(0, res->int64(0, 0)));
}

Result<> SqlMetadata::delete_blob(const Digest& hash) {
  return db_->transaction([&](SqlConn& c) -> Result<> {
    auto del = c.query("DELETE FROM blobs WHERE hash = ? RETURNING size, quarantine", {key(hash)});
    if (!del) return std::unexpected(del.error());
    auto note = c.query("DELETE FROM blob_pending WHERE hash = ?", {key(hash)});
    if (!note) return std::unexpected(note.error());
    return add_totals(c, removed_totals(*del));
  });
}

BlobTotalsDelta SqlMetadata::removed_totals(const SqlResult& deleted) {
  BlobTotalsDelta d;
  for (std::size_t i = 0; i < deleted.rows(); ++i) {
    --d.blob_count;
    d.total_bytes -= deleted.int64(i, 0);
    d.quarantined -= quarantined(deleted, i, 1) ? 1 : 0;
  }
  return d;
}

Result<std::vector<BlobRecord>> SqlMetadata::list_blobs(std::optional<Digest> after, std::size_t limit) {
  std::vector<BlobRecord> out;
  if (limit == 0) return out;
  static const std::string from_start = fmt::format("SELECT {} FROM blobs ORDER BY hash LIMIT ?", kColumns);
  static const std::string from_cursor =
      fmt::format("SELECT {} FROM blobs WHERE hash > ? ORDER BY hash LIMIT ?", kColumns);
  std::int64_t lim = limit > static_cast<std::size_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(limit);
  auto res = after ? db_->read(from_cursor, {key(*after), lim}) : db_->read(from_start, {lim});
  if (!res) return std::unexpected(res.error());
  out.reserve(res->rows());
  for (std::size_t i = 0; i < res->rows(); ++i) {
    auto rec = read_row(*res, i, false);
    if (!rec) return std::unexpected(rec.error());
    out.push_back(std::move(*rec));
  }
  return out;
}

Result<MetadataStats> SqlMetadata::stats() {
  auto res = db_->read("SELECT coalesce(sum(blob_count), 0), coalesce(sum(total_bytes), 0) FROM blob_totals");
  if (!res) return std::unexpected(res.error());
  MetadataStats s;
  if (!res->empty()) {
    s.blob_count = static_cast<std::uint64_t>(std::max<std::int64_t>(0, res->int64(0, 0)));
    s.total_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(0, res->int64(0, 1)));
  }
  return s;
}

}  // namespace blobsync
