// RepoStore: a minimal ATProto record store and the blob lifecycle that
// hangs off it, in tables of the shared metadata database (component
// "http_repo"). No Merkle search tree, signing or firehose: records are JSON
// rows keyed (did, collection, rkey).
//
// Blobs: records are one kind of hold in the store's blob lifecycle
// (store/blob_lifecycle.h). RepoStore is that lifecycle's HoldSource for
// records:
//   upload      -> account_blob(did, hash) "claim": lets that account
//                  reference the blob; the blob is kTemporary (a new grace
//                  period) unless something holds it.
//   reference   -> a record containing {"$type":"blob"} pointing at a claimed
//                  blob with the same mimeType and size: record_blob row,
//                  store state kPermanent, in one transaction.
//   unreference -> record deleted/updated: record_blob rows go; a blob nothing
//                  holds any more goes back to kTemporary (collectable after
//                  the grace period).
//   sweep       -> claims older than the grace period with no reference of
//                  that account are dropped (expire()); a collected blob's
//                  claims go with its row (on_collect()).
//
// Cross-server safety (docs/metadata.md has the full argument): every
// transaction that reads or changes the lifecycle of blob X (its claims,
// references or store state) first locks X's row in the store's `blobs`
// table, which lives in the same database (several rows in hash order,
// after the one record row it writes), as the sweeper does. So on
// PostgreSQL, where several servers share the tables, a reference and a GC
// decision about X never interleave.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "store/metadata.h"
#include "store/blob_lifecycle.h"
#include "http/xrpc_error.h"

namespace blobsync {
class SqlDb;
}  // namespace blobsync

namespace blobsync::http {

// A {"$type":"blob"} object found in a record.
struct RecordBlobRef {
  Digest hash;
  std::string cid;
  std::string mime_type;
  std::uint64_t size = 0;
  // What the lexicon slots holding this blob allow (http/lexicon.h), checked
  // against the stored blob: MIME patterns (empty: any) and a size limit.
  struct SlotLimit {
    std::vector<std::string> accept;
    std::optional<std::uint64_t> max_size;
  };
  std::vector<SlotLimit> slot_limits;
};

struct RecordRow {
  std::string collection, rkey, cid, value_json, rev;
};

class RepoStore final : public HoldSource {
 public:
  // `db` holds the store's blob index (the lifecycle's rows); registers
  // itself as a source of `lifecycle`, which must outlive it.
  static Result<std::unique_ptr<RepoStore>> open(std::shared_ptr<SqlDb> db, BlobLifecycle& lifecycle);

  // An upload of `hash` by `did` finished (the store holds the blob).
  // `mime_type` is what the upload policy decided. REQUIRES: the caller
  // holds the fence shared since before the upload's finish(), so GC cannot
  // delete the blob in between. pinned (PUT /blobs): the claim never expires.
  XResult<> note_upload(std::string_view did, const Digest& hash, std::string_view mime_type, std::uint64_t size,
                        bool pinned = false);
  // As note_upload, as statements of the transaction that writes the blob's
  // row (PutOptions::with_row): no transaction (and WAL fsync) of its own,
  // and the row is there by construction.
  static Result<> claim_upload(SqlConn& c, std::string_view did, const Digest& hash, std::string_view mime_type,
                               std::uint64_t size, bool pinned);
  // Creates or replaces a record. create_only: 400 RecordAlreadyExists if it
  // exists (createRecord); otherwise an upsert (putRecord). Errors from the
  // refs: 400 BlobNotFound / InvalidMimeType / InvalidSize, and from their
  // slot_limits (the reference PDS's words): 400 BlobTooLarge, InvalidMimeType.
  XResult<> write_record(std::string_view did, std::string_view collection, std::string_view rkey,
                         std::string_view cid, std::string_view value_json, std::string_view rev,
                         const std::vector<RecordBlobRef>& refs, bool create_only);
  // com.atproto.server.deleteAccount: every record of `did`, its references
  // and its claims, in one transaction; each blob nothing else holds any
  // more becomes collectable after the grace period. Returns the number of
  // records deleted.
  XResult<std::size_t> delete_account(std::string_view did);
  // Returns whether a record was deleted.
  XResult<bool> delete_record(std::string_view did, std::string_view collection, std::string_view rkey);
  XResult<std::optional<RecordRow>> get_record(std::string_view did, std::string_view collection,
                                               std::string_view rkey);
  // Ordered by rkey descending (newest first) unless reverse.
  XResult<std::vector<RecordRow>> list_records(std::string_view did, std::string_view collection, std::size_t limit,
                                               std::optional<std::string> cursor, bool reverse);

  // Quotas (docs/security.md, "Quotas"): what `did` holds, in bytes: the
  // sizes of the blobs it claims (each once) plus its records' JSON.
  XResult<std::uint64_t> usage(std::string_view did);
  // Whether `did` already claims the blob (a re-upload costs nothing).
  XResult<bool> has_claim(std::string_view did, const Digest& hash);
  // The stored JSON size of a record (0 if none): what a putRecord replaces.
  XResult<std::uint64_t> record_bytes(std::string_view did, std::string_view collection, std::string_view rkey);
  // Drops every account's claim on a blob removed outside GC (admin DELETE).
  Result<> forget_blob(const Digest& hash);

  // True if a record of `did` references the blob (so getBlob may serve it).
  XResult<bool> is_referenced(std::string_view did, const Digest& hash);
  // The account's claim: stored MIME type (for getBlob's Content-Type).
  XResult<std::optional<std::string>> claimed_mime(std::string_view did, const Digest& hash);
  // Referenced blobs of `did` in CID order after `cursor`, optionally only
  // those referenced by writes with rev > since.
  XResult<std::vector<std::string>> list_blobs(std::string_view did, std::optional<std::string> since,
                                               std::optional<std::string> cursor, std::size_t limit);
  // Referenced but not claimed/stored blobs: (cid, record uri).
  XResult<std::vector<std::pair<std::string, std::string>>> list_missing_blobs(std::string_view did,
                                                                                std::optional<std::string> cursor,
                                                                                std::size_t limit);

  // HoldSource: "record:at://did/collection/rkey" holds; claims go with a
  // collected blob; expired claims are dropped at the start of a sweep.
  Result<std::vector<std::string>> holds(SqlConn& c, const Digest& hash, std::size_t limit) override;
  Result<> on_collect(SqlConn& c, const Digest& hash) override;
  Result<> expire(std::int64_t cutoff_s) override;
  // Claims dropped by expire() since the start.
  std::uint64_t claims_dropped() const { return claims_dropped_.load(); }

 private:
  RepoStore(std::shared_ptr<SqlDb> db, BlobLifecycle& lifecycle) : db_(std::move(db)), lifecycle_(lifecycle) {}
  // A reference to `hex` went: the lifecycle decides whether anything still holds it.
  XResult<> release(SqlConn& c, const std::string& hex, const std::map<std::string, BlobState>& states);

  std::shared_ptr<SqlDb> db_;
  BlobLifecycle& lifecycle_;
  std::atomic<std::uint64_t> claims_dropped_{0};
};

}  // namespace blobsync::http
