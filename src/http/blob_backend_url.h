// The blob backend named by the `store` setting of `blobsync serve`/`gc`:
// "disk" (the default), "disk:DIR" or an s3:// URL, which several servers
// may share along with one PostgreSQL metadata database. The parsing lives in
// store/s3/backend_url.h (the CLI store commands use it too); these are the
// server's names for it.
//
// Thread safety: safe to call from any thread.
#pragma once

#include <memory>
#include <string_view>

#include "core/error.h"
#include "store/backend.h"

namespace blobsync::http {

// True if `url` names a backend kind this build knows (checked at config load).
bool known_store_url(std::string_view url);

// nullptr for the disk default (BlobStore opens DATA/blobs itself).
// Errors: kInvalidArgument (bad URL), the backend's connection errors.
Result<std::shared_ptr<BlobBackend>> open_blob_backend(std::string_view url);

}  // namespace blobsync::http
