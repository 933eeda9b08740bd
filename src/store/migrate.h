// migrate_blobs: copies every blob of one backend into another (`blobsync
// migrate`, switching a server between disk and S3).
//
// Both backends are walked in digest order and merge-joined, so what the
// destination already holds with the right size is skipped without a request
// per blob: an interrupted migration resumes where it stopped. Every copied
// blob is re-hashed while it streams and committed to the destination only if
// its SHA-256 equals its name (the destination writer is told the digest up
// front, so S3 uploads go straight to blobs/<hex>); a source blob whose bytes
// do not match is reported and not copied. Only bytes move: the metadata
// database names blobs by digest and stays valid for either backend.
//
// Thread safety: migrate_blobs may run concurrently with other users of both
// backends (a blob deleted meanwhile is reported as vanished).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "store/backend.h"

namespace blobsync {

struct MigrateProgress {
  std::uint64_t blobs_seen = 0;
  std::uint64_t copied = 0, copied_bytes = 0;
  std::uint64_t skipped = 0, skipped_bytes = 0;  // already in the destination
  std::uint64_t vanished = 0;                    // deleted from the source meanwhile
  struct Failure {
    Digest digest;
    Error error;  // kCorruption: the source bytes do not match the digest
  };
  std::vector<Failure> failures;
};

struct MigrateOptions {
  // Called after each blob (copied, skipped or failed) with the totals so far.
  std::function<void(const MigrateProgress&)> on_progress;
  // Stop at the first failed blob instead of going on with the others.
  bool stop_on_failure = false;
};

// Streams one blob from `from` to `to`, re-hashing it, and commits it only if
// its SHA-256 and size are `blob`'s. `buf` is scratch space (1 MiB is good).
// Errors: kCorruption (bytes do not match), kNotFound (not in `from`), the
// backends' own errors. Also used by backup and restore (store/backup.h).
Result<> copy_blob_verified(BlobBackend& from, BlobBackend& to, const BackendStat& blob, std::vector<std::byte>& buf);

// Errors: only those that stop the walk (listing either backend failed);
// per-blob failures are in the report. REQUIRES: from and to are different
// backends.
Result<MigrateProgress> migrate_blobs(BlobBackend& from, BlobBackend& to, const MigrateOptions& options = {});

}  // namespace blobsync
