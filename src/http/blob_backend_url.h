// The blob backend named by the `store` setting of `blobsync serve`/`gc`:
//
//   "" or "disk"                 DATA/blobs on the local disk (the default)
//   "s3://[KEY:SECRET@]BUCKET[/PREFIX]?endpoint=http://host:port&region=R&path_style=1"
//                                an S3-compatible bucket (docs/s3.md), which
//                                several servers may share along with one
//                                PostgreSQL metadata database
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
