// RepoStore: a minimal ATProto record store and the blob lifecycle that
// hangs off it, in tables of the shared metadata database (component
// "http_repo"). No Merkle search tree, signing or firehose: records are JSON
// rows keyed (did, collection, rkey).
//
// Blob lifecycle:
//   upload      -> account_blob(did, hash) "claim"; the store row is
//                  kTemporary unless something else already made it permanent
//                  (then it is not ours to manage).
//   reference   -> a record containing {"$type":"blob"} pointing at a claimed
//                  blob with the same mimeType and size: record_blob row,
//                  store state kPermanent.
//   unreference -> record deleted/updated: record_blob rows go; a managed blob
//                  with no references left is marked unreferenced and its
//                  store row goes back to kTemporary.
//   gc          -> claims older than the grace period with no references of
//                  that account are dropped; a managed blob with no claims and
//                  no references from anyone is deleted from the store.
// So nothing referenced is ever deleted, and a blob shared by two accounts
// lives while either account references (or freshly claimed) it.
//
// Cross-server safety (docs/metadata.md has the full argument): every
// transaction that reads or changes the lifecycle of blob X (its claims,
// references, managed row or store state) first locks X's row in the store's
// `blobs` table, which lives in the same database (several rows in hash
// order, after the one record row it writes). So on PostgreSQL, where
// several servers share the tables, a reference and a GC decision about X
// never interleave: GC either sees the reference or deletes X first, and the
// record write then fails with BlobNotFound. Making a referenced blob
// permanent happens in the same transaction as the reference. Deleting the
// bytes happens under the BlobFence, after the row delete committed.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "http/xrpc_error.h"

namespace blobsync {
class SqlDb;
class BlobStore;
class BlobFence;
}  // namespace blobsync

namespace blobsync::http {

// A {"$type":"blob"} object found in a record.
struct RecordBlobRef {
  Digest hash;
  std::string cid;
  std::string mime_type;
  std::uint64_t size = 0;
};

struct RecordRow {
  std::string collection, rkey, cid, value_json, rev;
};

struct GcReport {
  std::uint64_t claims_dropped = 0;
  std::uint64_t blobs_deleted = 0;
  std::uint64_t bytes_deleted = 0;
};

class RepoStore {
 public:
  // `store` keeps its blob index in `db` (the lifecycle locks those rows);
  // `fence` is the one the store's uploads take.
  static Result<std::unique_ptr<RepoStore>> open(std::shared_ptr<SqlDb> db, BlobStore& store,
                                                 std::shared_ptr<BlobFence> fence);

  // An upload of `hash` by `did` finished (the store holds the blob).
  // `mime_type` is what the upload policy decided. REQUIRES: the caller
  // holds the fence shared since before the upload's finish(), so GC cannot
  // delete the blob in between.
  XResult<> note_upload(std::string_view did, const Digest& hash, std::string_view mime_type, std::uint64_t size);
  // The plain API stored `hash` as permanent: stop managing its lifecycle.
  XResult<> pin(const Digest& hash);

  // Creates or replaces a record. create_only: 400 RecordAlreadyExists if it
  // exists (createRecord); otherwise an upsert (putRecord). Errors from the
  // refs: 400 BlobNotFound / InvalidMimeType / InvalidSize.
  XResult<> write_record(std::string_view did, std::string_view collection, std::string_view rkey,
                         std::string_view cid, std::string_view value_json, std::string_view rev,
                         const std::vector<RecordBlobRef>& refs, bool create_only);
  // Returns whether a record was deleted.
  XResult<bool> delete_record(std::string_view did, std::string_view collection, std::string_view rkey);
  XResult<std::optional<RecordRow>> get_record(std::string_view did, std::string_view collection,
                                               std::string_view rkey);
  // Ordered by rkey descending (newest first) unless reverse.
  XResult<std::vector<RecordRow>> list_records(std::string_view did, std::string_view collection, std::size_t limit,
                                               std::optional<std::string> cursor, bool reverse);

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

  // One sweep (see the file comment). Unmanaged temporary store rows older
  // than the grace period (crash leftovers) are deleted too. Each deletion
  // holds the fence exclusively. REQUIRES: the caller holds no fence guard.
  Result<GcReport> gc(std::chrono::seconds grace);

 private:
  RepoStore(std::shared_ptr<SqlDb> db, BlobStore& store, std::shared_ptr<BlobFence> fence)
      : db_(std::move(db)), store_(store), fence_(std::move(fence)) {}
  // Decides and (if due) deletes one blob's row; true if it was deleted.
  Result<bool> sweep_one(const Digest& hash, std::int64_t cutoff_s, GcReport& report);

  std::shared_ptr<SqlDb> db_;
  BlobStore& store_;
  std::shared_ptr<BlobFence> fence_;
};

}  // namespace blobsync::http
