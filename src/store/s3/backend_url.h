// Opening the blob backend named by a store URL (the `--store` setting of
// `blobsync serve`, `gc`, the store commands and `migrate`):
//
//   "" or "disk"     DATA/blobs on the local disk (the default)
//   "disk:DIR"       DIR/blobs: the blobs of another data directory
//   "s3://[KEY:SECRET@]BUCKET[/PREFIX]?endpoint=http://host:port&region=R&path_style=1"
//                    an S3-compatible bucket (docs/s3.md)
//
// It lives in blobsync_s3 because that library is the one that sees both
// backends (blobsync_store does not depend on libcurl).
//
// Thread safety: safe to call from any thread.
#pragma once

#include <filesystem>
#include <memory>
#include <string_view>

#include "core/error.h"
#include "store/backend.h"

namespace blobsync {

// True if `url` names a backend kind this build knows (checked at config load).
bool known_store_url(std::string_view url);

// nullptr for "" and "disk" (BlobStore opens DATA/blobs itself).
// Errors: kInvalidArgument (bad URL), the backend's own errors.
Result<std::shared_ptr<BlobBackend>> open_store_url(std::string_view url);

// As open_store_url, but "" and "disk" open DATA/blobs in `data_dir` too, so
// the result is never null (for code that works on backends directly).
Result<std::shared_ptr<BlobBackend>> open_store_url_or_disk(std::string_view url,
                                                            const std::filesystem::path& data_dir);

}  // namespace blobsync
