// S3Writer: the BlobWriter of the S3 backend; how a blob's bytes reach
// blobs/<hex> without a visible object ever holding the wrong bytes.
//
//  - Blobs up to one part (S3Config::part_size) stay in memory until
//    commit(digest), then go up in one PutObject straight to blobs/<hex> with
//    x-amz-content-sha256 = the digest, so an S3 that checks payloads also
//    verifies the blob. PutObject is atomic: the key shows all bytes or none.
//  - Larger blobs stream as a multipart upload to tmp/<random>, one part in
//    flight while the next one fills (2 parts of memory), each part signed
//    with its own SHA-256. commit() completes the upload (tmp/ is never read
//    as a blob), checks the size, then copies server-side to blobs/<hex>
//    (CopyObject, or UploadPartCopy above max_copy_size) and deletes the tmp
//    object. A crash leaves at most an invisible multipart upload or a tmp/
//    object, which S3Backend::recover() removes.
//  - An existing blobs/<hex> is never rewritten (HEAD first): dedup.
//
// Thread safety: one thread at a time, as every BlobWriter. Part uploads run
// on a helper thread that only touches the part it was given.
#pragma once

#include <cstdint>
#include <future>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/sha256.h"
#include "store/backend.h"
#include "store/s3/s3_client.h"

namespace blobsync::s3 {

class S3Writer : public BlobWriter {
 public:
  explicit S3Writer(S3Client& client);
  ~S3Writer() override;

  Result<> append(std::span<const std::byte> data) override;
  Result<> commit(const Digest& digest) override;
  void abort() override;

 private:
  Result<> start_multipart();
  // Hands the full buffer to the uploader thread (after the previous part finished).
  Result<> flush_part();
  Result<> wait_inflight();
  Result<std::string> upload_part(int number, std::span<const std::byte> data, const std::string& sha256);
  Result<> complete_multipart();
  Result<> copy_to(const std::string& final_key);
  Result<> multipart_copy(const std::string& final_key);
  Result<> fail_with(Error e);

  S3Client& client_;
  const S3Config& config_;
  std::vector<std::byte> buf_;  // the part being filled
  Sha256 part_hash_;
  std::uint64_t total_ = 0;

  std::string tmp_key_;
  std::string upload_id_;
  bool tmp_completed_ = false;  // tmp_key_ is a real object now
  std::vector<std::string> etags_;  // etags_[i] is part i + 1
  int parts_started_ = 0;
  std::future<Result<std::string>> inflight_;
  std::vector<std::byte> inflight_buf_;

  std::optional<Error> error_;  // sticky: after a failure the writer is dead
  bool finished_ = false;       // committed or aborted
};

}  // namespace blobsync::s3
