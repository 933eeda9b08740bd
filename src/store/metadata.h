// MetadataStore: one row per blob (size, MIME type, chunk hashes, lifecycle),
// kept in SQLite (WAL) by default; a PostgreSQL implementation comes later.
//
// The row is removed before the bytes are deleted. It is written after the
// bytes are durable in the backend, or (a store that keeps_notes(), on a
// backend that is not durable_on_publish()) with a pending note while they
// are flushed, and a row with a note is re-verified at open; so after a
// crash a row names bytes that exist (a crash can at worst leave unindexed
// bytes, which `verify --repair` and GC find).
//
// Thread safety: safe for concurrent use from any number of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "sql/change_stamp.h"

namespace blobsync {

class SqlConn;

// Lifecycle of a blob (docs/architecture.md, "Blob lifecycle"):
//   kTemporary  nothing is known to keep it; collectable once the grace
//               period has passed since it became unheld (unheld_at_ms, or
//               created_at_ms for a blob that never was held).
//   kPermanent  something keeps it: a record, a room's registry entry or a pin
//               (store/blob_lifecycle.h). Only an index for the sweeper: the
//               holds themselves are the truth, checked again before deletion.
//   kDeleting   the sweeper decided to collect it and is withdrawing it from
//               registries; readers treat it as absent. A new ingest of the
//               same bytes brings it back (kTemporary or kPermanent).
enum class BlobState : int { kTemporary = 0, kPermanent = 1, kDeleting = 2 };

struct BlobRecord {
  Digest hash;
  std::uint64_t size = 0;
  std::string mime_type;
  std::uint64_t chunk_count = 0;
  std::vector<Digest> chunk_hashes;  // chunk_count entries; may be left empty by list()
  std::int64_t created_at_ms = 0;    // Unix epoch milliseconds
  BlobState state = BlobState::kPermanent;
  // Non-empty: the blob failed a re-hash (scrub, verify) and is quarantined:
  // no path serves it; a verified copy (heal, re-upload) clears it.
  std::string quarantine;
  // The first name an upload gave it (core/filename.h sanitizes it); "" none.
  std::string filename;
};

struct MetadataStats {
  std::uint64_t blob_count = 0;
  std::uint64_t total_bytes = 0;
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // Inserts the row; returns false if it existed (then only the rules below
  // apply). A kTemporary insert over a kTemporary row refreshes
  // created_at_ms (a new grace period); a kPermanent insert promotes an
  // existing row; an insert over a kDeleting row brings it back (the
  // sweeper then leaves it). `hold` (may be empty): a hold
  // ("pin:put", "room:notes@ws://a/sync", store/blob_lifecycle.h) added
  // in the same transaction, which makes the row kPermanent; a row for which
  // holds already exist (a room listed the blob before it arrived) is
  // kPermanent too.
  virtual Result<bool> insert_blob(const BlobRecord& record, std::string_view hold) = 0;
  Result<bool> insert_blob(const BlobRecord& record) { return insert_blob(record, {}); }
  // As insert_blob, with `with_row` (may be empty) run in the row's
  // transaction right after the row's statements: what must commit with the
  // row or not at all (an account's claim of an upload), without a
  // transaction (and a WAL fsync) of its own. Its error fails the insert,
  // which then changes nothing. SQL stores only: others refuse a hook
  // (kUnsupported).
  using RowHook = std::function<Result<>(SqlConn&)>;
  virtual Result<bool> insert_blob_with(const BlobRecord& record, std::string_view hold, const RowHook& with_row) {
    if (with_row) return fail(Errc::kUnsupported, "this metadata store runs no SQL with a row");
    return insert_blob(record, hold);
  }
  // Pending notes (docs/architecture.md, "Durable commit"): a note says a
  // blob's row may have committed before its bytes were durable. A store
  // without notes (keeps_notes() false) gets rows only after the bytes are
  // durable; the defaults below are for it.
  virtual bool keeps_notes() const { return false; }
  // As insert_blob_with, with a note `note` (a non-zero token) for the blob
  // in the same transaction (replacing any note it had). `meanwhile`, if
  // set, runs exactly once on the calling thread, whatever the outcome,
  // and must not call this store: with `true` just before this thread
  // commits the row itself (hand the work elsewhere and return), with
  // `false` while another thread commits it (or, this default, before).
  using Meanwhile = std::function<void(bool committing_here)>;
  virtual Result<bool> insert_blob_noted(const BlobRecord& record, std::string_view hold, const RowHook& with_row,
                                         std::int64_t note, const Meanwhile& meanwhile) {
    (void)note;
    if (meanwhile) meanwhile(false);
    return insert_blob_with(record, hold, with_row);
  }
  // The blob's note, if it has one.
  virtual Result<std::optional<std::int64_t>> pending_note(const Digest& hash) {
    (void)hash;
    return std::optional<std::int64_t>();
  }
  // The bytes of `note` are durable now: the note goes with a later
  // transaction (or flush_notes()), unless a newer note replaced it.
  virtual void note_flushed(const Digest& hash, std::int64_t note) { (void)hash, (void)note; }
  // Deletes the notes note_flushed() queued, in one transaction.
  virtual Result<> flush_notes() { return {}; }
  // Every note, for recovery at open.
  virtual Result<std::vector<std::pair<Digest, std::int64_t>>> pending_notes() {
    return std::vector<std::pair<Digest, std::int64_t>>();
  }
  // Deletes one note now (recovery), if it is still `note`.
  virtual Result<> clear_note(const Digest& hash, std::int64_t note) {
    (void)hash, (void)note;
    return {};
  }

  virtual Result<std::optional<BlobRecord>> get_blob(const Digest& hash) = 0;
  virtual Result<> set_state(const Digest& hash, BlobState state) = 0;
  // Sets BlobRecord::quarantine; "" clears it. Errors: kNotFound (no row).
  virtual Result<> set_quarantine(const Digest& hash, std::string_view reason) = 0;
  // Keeps `name` (sanitized: core/filename.h) unless the blob already has
  // one: the first name seen wins. No row, or nothing left of the name: a
  // no-op. insert_blob does the same with BlobRecord::filename.
  virtual Result<> set_filename(const Digest& hash, std::string_view name) = 0;
  // Rows with a quarantine reason (a running total: no scan).
  virtual Result<std::uint64_t> count_quarantined() = 0;
  // Deleting a missing row is not an error.
  virtual Result<> delete_blob(const Digest& hash) = 0;
  // Ascending hash order after `after`; chunk_hashes are not filled in.
  virtual Result<std::vector<BlobRecord>> list_blobs(std::optional<Digest> after, std::size_t limit) = 0;
  // Running totals (no scan): cheap enough for a /metrics scrape.
  virtual Result<MetadataStats> stats() = 0;
  // SqlDb::change_stamp() of the database the rows live in: equal stamps
  // mean no process changed any row in between. nullopt: cannot tell
  // cheaply, so rows must not be cached across calls.
  virtual std::optional<ChangeStamp> change_stamp() { return std::nullopt; }
};

}  // namespace blobsync
