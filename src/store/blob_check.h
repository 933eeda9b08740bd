// Blob checks shared by the store's read paths and the scrubber:
//
//   unservable(record)   why readers must not get this blob's bytes (it is
//                        quarantined, or being deleted), or nothing.
//   read_checked(...)    reads a stored blob chunk by chunk, checking every
//                        chunk hash and the blob hash (BlobStore::read_verified
//                        without the quarantine check, so the scrubber can
//                        re-check a quarantined blob and release it).
//
// Thread safety: stateless functions; safe from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "core/error.h"
#include "store/backend.h"
#include "store/metadata.h"

namespace blobsync {

// kCorruption "blob sha256:… is quarantined: <reason>" for a quarantined
// blob, kNotFound for one being deleted (readers treat it as absent),
// nullopt if its bytes may be served.
std::optional<Error> unservable(const BlobRecord& record);

// Reads all of `record` (chunk hashes filled in) from `backend` into `sink`,
// verifying every chunk before it reaches the sink and the blob hash at the
// end. Errors: kCorruption (missing bytes, wrong size, a chunk or the blob
// hash differs; the message names the first problem), read errors, and
// whatever the sink returns (reading stops at once).
Result<> read_checked(BlobBackend& backend, const BlobRecord& record,
                      const std::function<Result<>(std::span<const std::byte>)>& sink);

}  // namespace blobsync
