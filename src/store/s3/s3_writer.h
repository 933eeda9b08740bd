// S3Writer: the BlobWriter of the S3 backend; how a blob's bytes reach
// blobs/<hex> without a visible object ever holding the wrong bytes.
//
//  - Blobs up to one part (S3Config::part_size) stay in memory until
//    commit(digest), then go up in one PutObject straight to blobs/<hex> with
//    x-amz-content-sha256 = the digest, so an S3 that checks payloads also
//    verifies the blob. PutObject is atomic: the key shows all bytes or none.
//  - Larger blobs stream as a multipart upload, up to
//    S3Config::upload_parallelism parts in flight while the next one fills
//    (memory: parallelism + 1 parts), each part signed with its own SHA-256.
//    A multipart upload is invisible until completed, so:
//     * when the digest is known up front (create_writer(expected): PUT
//       /blobs/<hash>, replication, migrate) the upload goes straight to
//       blobs/<hex> and is completed only in commit(), after BlobStore has
//       verified every byte against that digest. No copy.
//     * otherwise it goes to tmp/<random>; commit() completes it, checks the
//       size, copies it server-side to blobs/<hex> (CopyObject, or
//       UploadPartCopy above max_copy_size) and deletes the tmp object.
//    A crash leaves at most an incomplete multipart upload (under blobs/ or
//    tmp/) or a tmp/ object, which S3Backend::recover() removes.
//  - An existing blobs/<hex> of the right size is never rewritten (HEAD
//    first): dedup.
//
// Thread safety: one thread at a time, as every BlobWriter. Part uploads run
// on helper threads that only touch the part they were given.
#pragma once

#include <cstdint>
#include <deque>
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
  // `expected`: the digest commit() will be given, if known (see above).
  S3Writer(S3Client& client, std::optional<Digest> expected);
  ~S3Writer() override;

  Result<> append(std::span<const std::byte> data) override;
  // REQUIRES: digest == expected when the writer was created with one.
  Result<> commit(const Digest& digest) override;
  void abort() override;

 private:
  struct Part {
    int number = 0;
    std::vector<std::byte> buf;
    std::future<Result<std::string>> etag;
  };

  Result<> start_multipart();
  // Hands the full buffer to an uploader thread (after waiting for the
  // oldest part if upload_parallelism are in flight).
  Result<> flush_part();
  Result<> wait_oldest();
  Result<> wait_all();
  Result<std::string> upload_part(int number, std::span<const std::byte> data, const std::string& sha256);
  Result<> complete_multipart();
  // Aborts the multipart upload, if any (best effort: recover() retries).
  void abort_upload();
  // HEAD: does key hold exactly total_ bytes? Errors other than 404 fail.
  Result<bool> has_full_object(const std::string& key);
  Result<> commit_single(const std::string& final_key, const Digest& digest);
  Result<> commit_direct(const std::string& final_key);
  Result<> commit_via_tmp(const std::string& final_key);
  Result<> copy_to(const std::string& final_key);
  Result<> multipart_copy(const std::string& final_key);
  Result<> fail_with(Error e);

  S3Client& client_;
  const S3Config& config_;
  std::optional<Digest> expected_;
  std::vector<std::byte> buf_;  // the part being filled
  Sha256 part_hash_;
  std::uint64_t total_ = 0;

  std::string upload_key_;  // blobs/<expected hex> or tmp/<random>
  std::string upload_id_;
  bool tmp_completed_ = false;      // upload_key_ is a completed tmp/ object
  std::vector<std::string> etags_;  // etags_[i] is part i + 1
  int parts_started_ = 0;
  std::deque<Part> inflight_;  // oldest first
  std::vector<std::byte> spare_;  // a finished part's buffer, reused

  std::optional<Error> error_;  // sticky: after a failure the writer is dead
  bool finished_ = false;       // committed or aborted
};

}  // namespace blobsync::s3
