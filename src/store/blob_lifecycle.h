// BlobLifecycle: what keeps a blob, and the sweeper that collects the rest.
// One lifecycle for every blob, whichever way it arrived (XRPC upload,
// PUT /blobs, a room's blob channel, mesh replication, the CLI).
//
// Holds. A blob is kept while anything holds it:
//   pin:<label>            an explicit pin: "pin:put" (PUT /blobs), "pin:cli"
//                          (`blobsync put`, `get`), `blobsync pin --label`,
//                          "pin:legacy" (kept by the rules before holds existed)
//   room:<room>@<server>   an entry of that room's _blobRegistry on that server
//                          (the room writes it before the entry is durable)
//   record:at://did/c/rkey a record that references the blob (a HoldSource)
// Pins and room holds are rows of blob_hold, in the database of the `blobs`
// table; other components contribute a HoldSource. A hold may exist before
// its blob (a room lists a blob that has not arrived yet): the blob is then
// permanent from its first byte.
//
// States (store/metadata.h): kPermanent while held; kTemporary when nothing
// holds it, collectable once `grace` has passed since it was stored or
// released; kDeleting while the sweeper collects it (readers see no blob).
//
// The sweeper, per blob, in an order that a crash at any point cannot turn
// into a lost held blob or a registry entry naming bytes that are gone:
//   1. decide (one transaction, the blob's row locked): kTemporary, past the
//      grace period, no hold in any source -> kDeleting.
//   2. withdraw: this server leaves every registry entry that lists the blob
//      (the Withdraw callback, which returns once that is durable). If it
//      cannot, the blob goes back to kTemporary and waits for the next sweep.
//   3. delete (fence exclusive; one transaction): still kDeleting and still
//      unheld -> each source's on_collect, the row goes; then the bytes.
// A crash after 1 or 2 leaves a kDeleting row, which the next sweep resumes
// at 2. Step 3's transaction also writes a blob_gone row, removed once the
// bytes are: a crash in between leaves it, and the next sweep removes those
// bytes first (unless the blob was stored again meanwhile). A hold added
// meanwhile, or a new upload of the same bytes, turns a kDeleting row back
// into a live one, and 3 leaves it.
//
// Thread safety: safe for concurrent use after the sources and the withdraw
// callback are set (REQUIRES: before the first sweep or hold call).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/error.h"

namespace blobsync {

class BlobStore;
class BlobFence;
class SqlConn;
class SqlDb;

// Holds kept outside blob_hold, e.g. records referencing blobs.
class HoldSource {
 public:
  virtual ~HoldSource() = default;
  // Up to `limit` holds of this source on `hash`, named for people
  // ("record:at://did:plc:x/app.bsky.feed.post/3k"). Runs in the caller's
  // transaction, on the blob's locked row.
  virtual Result<std::vector<std::string>> holds(SqlConn& c, const Digest& hash, std::size_t limit) = 0;
  // The blob's row is deleted in this transaction: drop the source's rows about it.
  virtual Result<> on_collect(SqlConn& c, const Digest& hash) = 0;
  // Start of a sweep (not in a transaction): expire what only lasts for the
  // grace period (the HTTP layer's upload claims). cutoff_s: Unix seconds.
  virtual Result<> expire(std::int64_t cutoff_s) = 0;
};

struct SweepOptions {
  std::chrono::seconds grace{6 * 3600};
  bool dry_run = false;           // decide and report; change nothing
  std::size_t audit_batch = 1000;  // permanent rows re-checked per sweep (leaked holds)
  // Called after each step of a collection: "decided", "withdrawn",
  // "unindexed" (before the bytes go). Crash tests stop the process there.
  std::function<void(std::string_view step)> on_step;
  // Checked between blobs: true ends the sweep early (shutdown).
  std::function<bool()> stop_requested;
};

struct SweepEntry {
  Digest hash;
  std::uint64_t size = 0;
  std::string why;  // "unheld since 2026-12-06T18:00:00Z, grace 6h" / "interrupted collection"
};

struct SweepReport {
  std::uint64_t blobs_deleted = 0;
  std::uint64_t bytes_deleted = 0;
  std::uint64_t released = 0;  // permanent rows found unheld and made temporary (audit)
  std::uint64_t deferred = 0;  // blobs whose withdrawal failed, left for the next sweep
  std::vector<SweepEntry> collected;  // what went (dry run: what would go)
};

class BlobLifecycle {
 public:
  // Removes this server from every registry entry that lists `hash` and
  // returns once that change is durable. Errors defer the blob's collection.
  using Withdraw = std::function<Result<>(const Digest& hash)>;

  // `db` holds the store's `blobs` table (migrated by SqlMetadata).
  // `store` is the unfenced store; deletions take `fence` themselves.
  static Result<std::unique_ptr<BlobLifecycle>> open(std::shared_ptr<SqlDb> db, BlobStore& store,
                                                     std::shared_ptr<BlobFence> fence);

  // REQUIRES (both): before concurrent use. `source` outlives this object.
  void add_source(HoldSource* source);
  void set_withdraw(Withdraw withdraw);

  // Adds or removes `holder`'s hold on each of `hashes` (a room's entries,
  // a pin), in one transaction. Adding makes an existing row kPermanent
  // (also a kDeleting one); removing the last hold makes it kTemporary,
  // collectable after the grace period from now.
  Result<> hold(std::string_view holder, std::span<const Digest> hashes);
  Result<> release(std::string_view holder, std::span<const Digest> hashes);
  // Makes `holder`'s holds exactly `hashes` (a room's registry after load).
  Result<> set_holds(std::string_view holder, std::span<const Digest> hashes);
  // hold() of one stored blob: kNotFound (nothing held) unless its row
  // exists, checked in the same transaction (`blobsync pin`).
  Result<> hold_stored(std::string_view holder, const Digest& hash);
  // Every hold on `hash`, blob_hold's and the sources' (at most 64).
  Result<std::vector<std::string>> holds_of(const Digest& hash);

  // For sources, inside their own transaction after they dropped a hold:
  // a kPermanent row that nothing holds any more becomes kTemporary.
  // REQUIRES: the caller locked the blob's row.
  Result<> release_if_unheld(SqlConn& c, const Digest& hash);

  // One sweep (see the file comment). Takes the fence itself.
  // REQUIRES: the caller holds no fence guard and no transaction.
  Result<SweepReport> sweep(const SweepOptions& options);

  ~BlobLifecycle();

 private:
  struct Impl;
  explicit BlobLifecycle(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace blobsync
