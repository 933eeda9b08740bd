// BlobBackend: where blob bytes live (the local disk by default, S3 later).
//
// A narrow interface in the spirit of Perkeep's blobserver: receive (a writer
// that becomes visible only on commit), fetch a byte range, stat, remove, and
// enumerate in digest order. Backends never hash anything: BlobStore verifies
// every digest in one place before it calls commit(), so backends may trust
// the digest they are given.
//
// Thread safety: a BlobBackend is safe for concurrent use from any number of
// threads. A BlobWriter or BlobReader is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/digest.h"
#include "core/error.h"

namespace blobsync {

struct BackendStat {
  Digest digest;
  std::uint64_t size = 0;
};

// Receives the bytes of one new blob. Nothing is visible to readers until
// commit() returns success; destroying an uncommitted writer discards it.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  // Appends bytes. Errors: kIOError, kNoSpace, kPermissionDenied.
  virtual Result<> append(std::span<const std::byte> data) = 0;
  // Makes the bytes durable and visible under `digest`. If a blob with that
  // digest already exists, the new bytes are discarded (no second copy) and
  // the call succeeds. REQUIRES: digest is the SHA-256 of everything appended
  // (the caller verified it). After commit() the writer is spent.
  virtual Result<> commit(const Digest& digest) = 0;
  // Discards everything appended. Safe to call more than once. After
  // publish() it only releases the writer (the published name stays).
  virtual void abort() = 0;

  // The commit split in two, for a caller that records the blob durably
  // elsewhere while the bytes are flushed (BlobStore: the metadata row and
  // its pending note, docs/architecture.md "Durable commit"). publish()
  // makes the bytes visible under `digest`, maybe not yet durable; sync()
  // then makes them durable. Unless `replace`, publish() fails with
  // kAlreadyExists (the writer stays usable) if something is already at the
  // name: the caller decides whether to trust it. The default (a backend
  // whose commit is durable by itself, S3) is commit() and a no-op sync().
  virtual Result<> publish(const Digest& digest, bool replace) {
    (void)replace;
    return commit(digest);
  }
  virtual Result<> sync() { return {}; }
  // How many bytes the caller expects to append (a file's stat size), not
  // enforced: the disk backend starts the blob's flush when that many are
  // written, while the caller still hashes, and sync() waits for it instead
  // of flushing again. REQUIRES: called before the first append, from the
  // thread that hands out the appends.
  virtual void size_hint(std::uint64_t size) { (void)size; }
};

// Reads a byte range of one stored blob.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  // Reads up to buf.size() bytes; returns 0 at the end of the range.
  virtual Result<std::size_t> read(std::span<std::byte> buf) = 0;
  // Bytes of the range not yet read.
  virtual std::uint64_t remaining() const = 0;
  // For sendfile(2): a file descriptor positioned-independent source and the
  // absolute file offset of the next unread byte, or -1 when the backend has
  // no local file (S3). The descriptor stays owned by the reader.
  virtual int native_fd() const { return -1; }
  virtual std::uint64_t native_offset() const { return 0; }
  // Tells the reader that n bytes were consumed through native_fd().
  virtual void advance(std::uint64_t n) = 0;
};

inline constexpr std::uint64_t kToEnd = std::numeric_limits<std::uint64_t>::max();

class BlobBackend {
 public:
  virtual ~BlobBackend() = default;

  // Starts a new blob. `expected` is the digest the caller will commit under
  // if the bytes verify (PUT /blobs/<hash>, replication, migrate): a backend
  // may then stream straight to the final location, provided nothing is
  // visible there before commit(). REQUIRES: commit() of such a writer
  // gets that same digest (BlobStore aborts on a mismatch instead).
  // Errors: kIOError, kNoSpace, kPermissionDenied.
  virtual Result<std::unique_ptr<BlobWriter>> create_writer(const std::optional<Digest>& expected) = 0;
  Result<std::unique_ptr<BlobWriter>> create_writer() { return create_writer(std::nullopt); }

  // As create_writer(expected), for a caller that knows how many bytes it
  // will append (Content-Length, a file's size, a BlobRef): a backend may
  // then send the blob in one streamed request (S3: one PutObject, see
  // s3_writer.h). REQUIRES: exactly `size` bytes are appended before
  // commit(); otherwise append() or commit() fails (kInvalidArgument) and
  // nothing becomes visible. The default ignores the size.
  virtual Result<std::unique_ptr<BlobWriter>> create_writer_sized(const std::optional<Digest>& expected,
                                                                  std::uint64_t size) {
    (void)size;
    return create_writer(expected);
  }

  // Opens [offset, offset + length) of a stored blob; length kToEnd means to
  // the end. Errors: kNotFound; kInvalidArgument if offset > size.
  virtual Result<std::unique_ptr<BlobReader>> open(const Digest& digest, std::uint64_t offset = 0,
                                                   std::uint64_t length = kToEnd) = 0;

  // As open(), for a caller that knows the blob's size from its metadata row:
  // backends whose stat costs a round trip (S3) skip it and may report a
  // missing blob only at the first read(). A wrong size shows as a read
  // error or a short blob (which the caller's hashes catch), never as other
  // bytes. Errors: as open().
  virtual Result<std::unique_ptr<BlobReader>> open_sized(const Digest& digest, std::uint64_t size,
                                                         std::uint64_t offset = 0, std::uint64_t length = kToEnd) {
    (void)size;
    return open(digest, offset, length);
  }

  // Errors: kNotFound.
  virtual Result<BackendStat> stat(const Digest& digest) = 0;

  // Removing a blob that does not exist is not an error.
  virtual Result<> remove(const Digest& digest) = 0;

  // Up to `limit` blobs with digest > after (all if after is empty), in
  // ascending digest order.
  virtual Result<std::vector<BackendStat>> enumerate(std::optional<Digest> after, std::size_t limit) = 0;

  // Removes leftovers of writes interrupted by a crash. Called once at open.
  virtual Result<> recover() = 0;

  // False if BlobWriter::publish() leaves bytes that need sync() to be
  // durable (the disk); then BlobStore notes the blob as pending until they are.
  virtual bool durable_on_publish() const { return true; }
  // Whether recover() found another live process using the same storage
  // (the CLI next to a running server): its pending notes are its own to
  // settle, so recovery of notes waits for an open with no one else.
  virtual bool shared_with_live_process() const { return false; }
  // Makes a stored blob's bytes durable (idempotent): for a blob another
  // writer published and may not have synced yet. Errors: kNotFound.
  virtual Result<> sync(const Digest& digest) {
    (void)digest;
    return {};
  }
};

}  // namespace blobsync
