#include "store/s3/backend_url.h"

#include "store/disk_backend.h"
#include "store/env.h"
#include "store/s3/s3_backend.h"

namespace blobsync {

namespace {

Result<std::shared_ptr<BlobBackend>> open_disk(const std::filesystem::path& data_dir) {
  if (data_dir.empty()) return fail(Errc::kInvalidArgument, "store: 'disk:' needs a directory (disk:/path/to/data)");
  Env* env = Env::posix();
  if (auto made = env->mkdir(data_dir); !made) {
    return fail(made.error().code, "store disk:{}: {}", data_dir.string(), made.error().message);
  }
  auto disk = DiskBackend::open(env, data_dir / "blobs");
  if (!disk) return fail(disk.error().code, "store disk:{}: {}", data_dir.string(), disk.error().message);
  return std::shared_ptr<BlobBackend>(std::move(*disk));
}

}  // namespace

bool known_store_url(std::string_view url) {
  return url.empty() || url == "disk" || url.starts_with("disk:") || url.starts_with("s3://");
}

Result<std::shared_ptr<BlobBackend>> open_store_url(std::string_view url) {
  if (url.empty() || url == "disk") return std::shared_ptr<BlobBackend>();
  if (url.starts_with("disk:")) return open_disk(std::filesystem::path(url.substr(5)));
  if (url.starts_with("s3://")) {
    auto s3 = s3::open_s3_backend(url);
    if (!s3) return fail(s3.error().code, "store: {}", s3.error().message);
    return std::shared_ptr<BlobBackend>(std::move(*s3));
  }
  return fail(Errc::kInvalidArgument, "store: expected 'disk', 'disk:DIR' or an s3://BUCKET?endpoint=... URL");
}

Result<std::shared_ptr<BlobBackend>> open_store_url_or_disk(std::string_view url,
                                                            const std::filesystem::path& data_dir) {
  auto backend = open_store_url(url);
  if (!backend || *backend) return backend;
  return open_disk(data_dir);
}

}  // namespace blobsync
