// verify_blobs: the body of BlobStore::verify (see blob_store.h), apart from
// the store so that blob_store.cpp keeps to ingest, commit and reads.
//
// Thread safety: safe to run while the store is in use; it takes
// digest_lock(d) before reporting bytes without a row (a put may be between
// its commit and its insert).
#pragma once

#include <functional>
#include <mutex>
#include <string_view>

#include "core/digest.h"
#include "core/error.h"
#include "store/backend.h"
#include "store/blob_store.h"
#include "store/metadata.h"

namespace blobsync {

// Walks the index (`metadata`) and the bytes (`backend`) in digest order and
// re-hashes every indexed blob. `set_quarantine(d, reason)` quarantines a
// blob that failed (reason: its first problem) or releases one that passed
// (empty reason); `digest_lock(d)` is the store's lock for d; `on_blob` (may
// be empty) is called before each indexed blob is checked. Errors: those of
// the metadata and backend listings and reads (not of the blobs' contents,
// which become problems in the report).
Result<VerifyReport> verify_blobs(MetadataStore& metadata, BlobBackend& backend,
                                  const std::function<std::mutex&(const Digest&)>& digest_lock,
                                  const std::function<Result<>(const Digest&, std::string_view)>& set_quarantine,
                                  const std::function<void(const Digest&)>& on_blob);

}  // namespace blobsync
