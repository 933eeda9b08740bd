#include "http/blob_backend_url.h"

#include "store/s3/backend_url.h"

namespace blobsync::http {

bool known_store_url(std::string_view url) { return blobsync::known_store_url(url); }

Result<std::shared_ptr<BlobBackend>> open_blob_backend(std::string_view url) { return open_store_url(url); }

}  // namespace blobsync::http
