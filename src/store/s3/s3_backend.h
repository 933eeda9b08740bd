// S3Backend: the BlobBackend that keeps blob bytes in an S3-compatible bucket
// (AWS S3, MinIO, Ceph RGW, Garage, R2...). Key layout in s3_layout.h, write
// path and crash-safety argument in s3_writer.h, configuration in
// s3_config.h, user documentation in docs/s3.md.
//
//  - open(): HEAD for the size, then a ranged GET streamed with bounded
//    memory and resumed after connection errors; native_fd() is -1.
//    open_sized() (BlobStore knows the size from its row) skips the HEAD.
//  - stat(): HEAD. remove(): DELETE (absent is fine).
//  - enumerate(): ListObjectsV2 over PREFIX blobs/ with StartAfter and
//    continuation tokens; keys that are not 64 lowercase hex are skipped.
//  - recover(): aborts multipart uploads under tmp/ and blobs/ (direct
//    uploads of a known digest, see s3_writer.h) and deletes tmp/ objects
//    older than S3Config::tmp_grace_s (so servers sharing the bucket do not
//    abort each other's uploads). Servers that cannot list multipart uploads
//    (s3rver) only get their tmp/ objects cleaned; see docs/s3.md.
//
// Thread safety: safe for concurrent use from any number of threads, as every
// BlobBackend; its writers and readers are used by one thread at a time.
#pragma once

#include <memory>

#include "store/backend.h"
#include "store/s3/s3_client.h"
#include "store/s3/s3_config.h"

namespace blobsync::s3 {

class S3Backend : public BlobBackend {
 public:
  // Connects and checks that the bucket answers a listing. Errors:
  // kInvalidArgument (config), kPermissionDenied (credentials), kIOError
  // (no such bucket, server down), kTimeout.
  static Result<std::unique_ptr<S3Backend>> connect(S3Config config);

  using BlobBackend::create_writer;
  Result<std::unique_ptr<BlobWriter>> create_writer(const std::optional<Digest>& expected) override;
  Result<std::unique_ptr<BlobWriter>> create_writer_sized(const std::optional<Digest>& expected,
                                                          std::uint64_t size) override;
  Result<std::unique_ptr<BlobReader>> open(const Digest& digest, std::uint64_t offset = 0,
                                           std::uint64_t length = kToEnd) override;
  Result<std::unique_ptr<BlobReader>> open_sized(const Digest& digest, std::uint64_t size, std::uint64_t offset = 0,
                                                 std::uint64_t length = kToEnd) override;
  Result<BackendStat> stat(const Digest& digest) override;
  Result<> remove(const Digest& digest) override;
  Result<std::vector<BackendStat>> enumerate(std::optional<Digest> after, std::size_t limit) override;
  Result<> recover() override;

  // Creates the bucket (tests, `blobsync` setup); an existing one is fine.
  Result<> create_bucket();

  S3Client& client() { return *client_; }

 private:
  explicit S3Backend(std::unique_ptr<S3Client> client) : client_(std::move(client)) {}
  // Aborts multipart uploads under tmp/ and blobs/ older than tmp_grace_s.
  Result<> abort_stale_uploads(std::int64_t now_s);
  Result<> delete_stale_tmp_objects(std::int64_t now_s);

  std::unique_ptr<S3Client> client_;
};

// Convenience for --store s3://...: parse_s3_url + connect.
Result<std::unique_ptr<S3Backend>> open_s3_backend(std::string_view url);

}  // namespace blobsync::s3
