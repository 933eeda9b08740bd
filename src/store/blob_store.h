// BlobStore: the content-addressed store that never lies.
//
// The one place where digests are computed and checked. Ingest is a single
// streaming pass: SHA-256 of the whole blob, SHA-256 of every 256 KiB chunk,
// size limit, MIME sniffing of the first bytes (libmagic) and the write to a
// temporary object in the backend. Only when the digest is known (and equals
// the expected one, if given) is the blob committed to the backend and its
// metadata row inserted; until then no reader can see it. Memory is bounded
// (a few MiB) whatever the blob size.
//
// Layout on disk (default backend, see disk_backend.h):
//   DATA/blobs/<first two hex digits>/<64 hex>   committed blobs
//   DATA/blobs/tmp/                               in-flight writes, wiped at open
//   DATA/meta.db                                  SQLite metadata (WAL)
//
// Thread safety: a BlobStore is safe for concurrent use from any number of
// threads. An Ingest is used by one thread at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "store/backend.h"
#include "store/metadata.h"

namespace blobsync {

class Env;

struct StoreOptions {
  std::filesystem::path data_dir = "data";
  Env* env = nullptr;  // nullptr: the POSIX environment
  // Override the backend or metadata (tests, S3). nullptr: disk and SQLite in data_dir.
  std::shared_ptr<BlobBackend> backend;
  std::shared_ptr<MetadataStore> metadata;
};

struct PutOptions {
  // If set, the blob is rejected (kCorruption, nothing stored) unless its
  // SHA-256 equals this.
  std::optional<Digest> expected;
  // If set, the blob is rejected (kCorruption naming the first chunk that
  // differs, nothing stored) unless its chunk hashes, computed by the
  // ingest's own hashing pass, equal these: one per 256 KiB chunk, in order.
  // A receiver that streams a sender's chunks into an ingest passes the
  // sender's chunk hashes here instead of hashing every chunk a third time.
  // Compared when finish() has the chunk hashes, before anything is committed.
  std::optional<std::vector<Digest>> expected_chunk_hashes;
  // Bytes beyond this fail the ingest with kTooLarge, nothing stored.
  std::uint64_t max_size = UINT64_MAX;
  // The type the client declared (may be empty). See mime_type_for().
  std::string declared_mime;
  // false: finish() runs no libmagic; the type is declared_mime (normalized)
  // or application/octet-stream. For bytes another blobsync store already
  // typed application/octet-stream (its libmagic recognised nothing
  // specific in them), e.g. a replicated blob: sniffing again would cost
  // 0.5-5 ms and find nothing either.
  bool sniff = true;
  // kTemporary: kept for the grace period unless something holds it.
  // kPermanent: only for tests and tools that manage no lifecycle; callers
  // that mean to keep a blob name a `hold` instead.
  BlobState state = BlobState::kPermanent;
  // A hold written with the row, in one transaction (store/blob_lifecycle.h):
  // "pin:cli", "pin:put", "room:<room>@<server>". Makes the blob kPermanent.
  std::string hold{};
  // The exact byte count, if the caller knows it before the first byte
  // (Content-Length, a regular file's size, a BlobRef). An ingest that ends
  // with another count fails (kInvalidArgument), nothing stored. Lets a
  // backend send the blob in one streamed request (S3: one PutObject).
  std::optional<std::uint64_t> size;
  // The name the uploader gave (the blob channel's UPLOAD, PUT /blobs
  // ?name=), kept if the blob has none yet: store/metadata.h set_filename.
  std::string filename{};
  // Statements that commit with the blob's row or not at all, in the row's
  // transaction (MetadataStore::insert_blob_with): an account's claim of
  // an upload, without a transaction and a WAL fsync of its own. Runs once
  // the bytes are durable, with the final record; may run more than once
  // (a retried transaction). Its error fails finish(), nothing indexed.
  std::function<Result<>(SqlConn&, const BlobRecord&)> with_row{};
};

// A streaming ingest. Feed bytes with write(), then finish(). Dropping an
// Ingest without finish() (or after an error) discards everything.
class Ingest {
 public:
  virtual ~Ingest() = default;
  // Errors: kTooLarge past max_size; backend errors (kIOError, kNoSpace...).
  // After an error the ingest is dead and further calls fail.
  virtual Result<> write(std::span<const std::byte> data) = 0;
  // Zero-copy writing (e.g. a socket read straight into the ingest's ring):
  // acquire() returns memory to fill (never empty; the same memory again if
  // called twice), filled(n) then acts as write() of its first n bytes.
  // REQUIRES: nothing else is called on the ingest between the two.
  virtual Result<std::span<std::byte>> acquire() = 0;
  virtual Result<> filled(std::size_t n) = 0;
  // Verifies, commits and indexes the blob. Errors: kCorruption if the digest
  // differs from PutOptions::expected or the chunk hashes from
  // PutOptions::expected_chunk_hashes; backend and metadata errors.
  // Storing content that is already present writes no second copy.
  virtual Result<BlobRecord> finish() = 0;
  // Reads `fd` (not closed) to its end into the ingest, as write() would;
  // the store's own ingest reads straight into its ring (no copy).
  // `progress` (may be empty) gets the bytes so far now and then.
  // Errors: as write(), plus read errors (kIOError).
  virtual Result<> write_from_fd(int fd, const std::function<void(std::uint64_t)>& progress);
  // Bytes accepted so far.
  virtual std::uint64_t bytes_written() const = 0;
  // The specific MIME type libmagic recognises in the first bytes written so
  // far (up to kSniffBytes), or "" (nothing specific recognised). Costs a
  // libmagic call (0.1-0.5 ms) unless nothing was written since the last
  // call; finish() reuses the answer when the head is complete by then.
  virtual std::string sniffed_mime() const = 0;
};

// What serving a blob needs (GET /blobs/<hash>): its row, chunk hashes not
// filled in, and, for a blob in the store's cache of hot blobs, its open file.
struct ServedBlob {
  BlobRecord record;
  std::shared_ptr<BlobReader> file;  // null: not cached, open_to_serve() opens the backend
  std::uint64_t file_size = 0;       // of `file`
};

struct VerifyProblem {
  Digest hash;
  std::string what;  // "missing", "size mismatch", "content hash mismatch", "chunk 3 hash mismatch", "not indexed"
  bool quarantined = false;  // verify() quarantined the blob for this problem
};

struct VerifyReport {
  std::uint64_t checked = 0;
  std::uint64_t bytes = 0;
  std::vector<VerifyProblem> problems;
  std::vector<Digest> released;  // were quarantined, and their bytes now check out
};

class BlobStore {
 public:
  // Opens (creating if needed) the store, runs schema migrations and removes
  // leftovers of interrupted writes. Errors: kPermissionDenied for an
  // unwritable data dir, kIOError, kCorruption for an unreadable database.
  static Result<std::unique_ptr<BlobStore>> open(const StoreOptions& options);

  virtual ~BlobStore() = default;

  virtual Result<std::unique_ptr<Ingest>> begin_put(const PutOptions& options) = 0;
  // Convenience: ingest a whole file or buffer. `progress` (may be empty) is
  // called with bytes done so far.
  virtual Result<BlobRecord> put_file(const std::filesystem::path& path, const PutOptions& options,
                                      const std::function<void(std::uint64_t)>& progress = {}) = 0;
  virtual Result<BlobRecord> put_bytes(std::span<const std::byte> data, const PutOptions& options) = 0;
  // Puts several files (`blobsync put F1 F2...`), overlapping the durability
  // work of one (fdatasync, rename, directory fsync, metadata commit) with
  // reading and hashing the next. Every file keeps put_file's guarantee: it
  // is reported to on_done(index, record), in order, only once it is durable
  // and indexed. Stops at the first failure and returns it, prefixed with
  // the file name; files reported before stay stored (so may a few after,
  // whose commits were already running). `progress` (may be empty) gets
  // (index, bytes read so far), from one thread at a time, for the oldest
  // file still being read. Files are read (and hashed) one per core at once,
  // up to 4. Memory: an ingest ring (4 MiB) per file being read and up to 16
  // commits in flight (their rings already returned, a few KiB each).
  Result<> put_files(std::span<const std::filesystem::path> paths, const PutOptions& options,
                     const std::function<void(std::size_t, const BlobRecord&)>& on_done,
                     const std::function<void(std::size_t, std::uint64_t)>& progress = {});

  // Metadata of a stored blob, chunk hashes included, quarantined or not
  // (BlobRecord::quarantine says why, for operators). Errors: kNotFound.
  virtual Result<BlobRecord> stat(const Digest& hash) = 0;
  // As stat(), for serving one request: the row of a blob served lately
  // comes from a cache of hot blobs (store/hot_blobs.h) with its open file,
  // used only while the metadata says no process has changed any row since
  // it was read (MetadataStore::change_stamp), so a quarantine, a removal or
  // a state change anywhere is seen by the next request. Errors: as stat().
  virtual Result<std::shared_ptr<const ServedBlob>> stat_to_serve(const Digest& hash);
  // [offset, offset + length) of a blob stat_to_serve() returned, from its
  // cached file if it has one. The caller has checked the record (state,
  // quarantine). Errors: as BlobBackend::open_sized.
  virtual Result<std::unique_ptr<BlobReader>> open_to_serve(const ServedBlob& blob, std::uint64_t offset,
                                                            std::uint64_t length);
  // Whether the store has bytes it may serve: false for a quarantined blob,
  // so the mesh treats it as missing (fetches a good copy, stops listing
  // this server as a holder).
  virtual Result<bool> contains(const Digest& hash) = 0;

  // Opens a byte range for reading. The bytes are the ones that were verified
  // at ingest; readers that need end-to-end assurance (get, verify) re-hash.
  // Errors: kNotFound; kCorruption for a quarantined blob; kInvalidArgument
  // if offset > size.
  virtual Result<std::unique_ptr<BlobReader>> open(const Digest& hash, std::uint64_t offset = 0,
                                                   std::uint64_t length = kToEnd) = 0;

  // Reads the whole blob into `sink` chunk by chunk, verifying every chunk
  // hash and the blob hash; fails with kCorruption on the first mismatch
  // (bytes already passed to sink must then be discarded by the caller), and
  // for a quarantined blob before reading anything.
  virtual Result<> read_verified(const Digest& hash,
                                 const std::function<Result<>(std::span<const std::byte>)>& sink) = 0;

  // Quarantine (docs/architecture.md, "Quarantine and scrub"): the blob's
  // bytes failed a re-hash, so no read path serves them (open, read_verified,
  // contains refuse; stat shows the reason). An ingest of the same hash then
  // writes the bytes afresh (no dedup against the bad copy) and clears the
  // quarantine once the verified bytes are committed: the heal.
  // Errors: kNotFound (no such blob), kInvalidArgument (empty reason).
  virtual Result<> quarantine(const Digest& hash, std::string_view reason) = 0;
  // Lifts a quarantine without new bytes: the stored bytes checked out again.
  virtual Result<> release_quarantine(const Digest& hash) = 0;
  // Bumped whenever this process quarantines or releases a blob (heals
  // included), so a watcher (the scrubber's gauge) recounts only after a change.
  virtual std::uint64_t quarantine_generation() const = 0;

  // Removes metadata then bytes. Removing a missing blob is kNotFound.
  virtual Result<> remove(const Digest& hash) = 0;
  virtual Result<> set_state(const Digest& hash, BlobState state) = 0;

  // Ascending hash order after `after` (chunk hashes not filled in).
  virtual Result<std::vector<BlobRecord>> list(std::optional<Digest> after, std::size_t limit) = 0;
  virtual Result<MetadataStats> stats() = 0;

  // Re-hashes every stored blob; reports every missing, corrupt or unindexed
  // one, quarantines each indexed one that failed and releases quarantined
  // ones whose bytes now check out.
  virtual Result<VerifyReport> verify(const std::function<void(const Digest&)>& on_blob = {}) = 0;

  virtual BlobBackend& backend() = 0;
  virtual MetadataStore& metadata() = 0;
};

}  // namespace blobsync
