#include "http/blob_backend_url.h"

#include "store/s3/s3_backend.h"

namespace blobsync::http {

bool known_store_url(std::string_view url) { return url.empty() || url == "disk" || url.starts_with("s3://"); }

Result<std::shared_ptr<BlobBackend>> open_blob_backend(std::string_view url) {
  if (url.empty() || url == "disk") return std::shared_ptr<BlobBackend>();
  if (url.starts_with("s3://")) {
    auto s3 = s3::open_s3_backend(url);
    if (!s3) return fail(s3.error().code, "store: {}", s3.error().message);
    return std::shared_ptr<BlobBackend>(std::move(*s3));
  }
  return fail(Errc::kInvalidArgument, "store: expected 'disk' or an s3://BUCKET?endpoint=... URL");
}

}  // namespace blobsync::http
