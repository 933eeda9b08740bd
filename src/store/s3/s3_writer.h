// S3Writer: the BlobWriter of the S3 backend; how a blob's bytes reach
// blobs/<hex> without a visible object ever holding the wrong bytes.
//
//  - Blobs up to one part (S3Config::part_size) stay in memory until
//    commit(digest), then go up in one PutObject straight to blobs/<hex> with
//    x-amz-content-sha256 = the digest, so an S3 that checks payloads also
//    verifies the blob. PutObject is atomic: the key shows all bytes or none.
//  - Larger blobs whose size was announced (create_writer_sized), up to
//    S3Config::single_put_max, stream as one PutObject while they are
//    appended (S3Upload: libcurl takes the bytes straight from append()'s
//    span; nothing buffered, no extra hashing):
//     * digest known up front: straight to blobs/<hex>, signed with
//       x-amz-content-sha256 = the digest (a strict S3 refuses other bytes).
//       The last byte is held back until commit(digest), which BlobStore
//       only calls after it verified every byte, so the server never has a
//       complete body before that; abort() cuts the request off short, and
//       an atomic PutObject then stores nothing. No copy.
//     * digest unknown: to tmp/<random> (UNSIGNED-PAYLOAD); commit() then
//       copies it server-side to blobs/<hex>; the tmp object is deleted in
//       the background (S3Client::delete_later) once the blob is visible.
//    A failure after the first body byte is final (the body is gone; the
//    caller re-sends), hence the cap.
//  - Other large blobs stream as a multipart upload, up to
//    S3Config::upload_parallelism parts in flight while the next one fills
//    (memory: parallelism + 1 parts), each part signed with its own SHA-256.
//    A multipart upload is invisible until completed, so:
//     * when the digest is known up front (create_writer(expected): PUT
//       /blobs/<hash>, replication, migrate) the upload goes straight to
//       blobs/<hex> and is completed only in commit(), after BlobStore has
//       verified every byte against that digest. No copy.
//     * otherwise it goes to tmp/<random>; commit() completes it, checks the
//       size, copies it server-side to blobs/<hex> (CopyObject, or
//       UploadPartCopy above max_copy_size) and deletes the tmp object in
//       the background.
//    A crash leaves at most an incomplete multipart upload (under blobs/ or
//    tmp/) or a tmp/ object, which S3Backend::recover() removes.
//  - An existing blobs/<hex> of the right size is never rewritten (HEAD
//    first): dedup.
//  - With an announced size, appending more bytes, or committing fewer,
//    fails (kInvalidArgument) and stores nothing.
//
// Thread safety: one thread at a time, as every BlobWriter. Part uploads and
// the streamed PutObject run on helper threads that only touch the bytes
// they were given.
#pragma once

#include <cstdint>
#include <deque>
#include <future>
#include <memory>
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
  // `expected`: the digest commit() will be given, if known; `size`: the
  // exact number of bytes append() will be given, if known (see above).
  S3Writer(S3Client& client, std::optional<Digest> expected, std::optional<std::uint64_t> size);
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
  // HEAD: does key hold exactly `size` bytes? Errors other than 404 fail.
  Result<bool> has_full_object(const std::string& key, std::uint64_t size);
  Result<bool> has_full_object(const std::string& key) { return has_full_object(key, total_); }
  // The streamed single PutObject (see above).
  Result<> start_stream();
  Result<> append_stream(std::span<const std::byte> data);
  Result<> commit_stream(const std::string& final_key);
  // After a cut-off stream: removes what a server that is not atomic kept.
  void clean_up_stream();
  Result<> commit_single(const std::string& final_key, const Digest& digest);
  Result<> commit_direct(const std::string& final_key);
  Result<> commit_via_tmp(const std::string& final_key);
  // The completed temporary object becomes final_key (copied unless final_key
  // already holds the blob), then goes.
  Result<> publish_tmp(const std::string& final_key);
  Result<> copy_to(const std::string& final_key);
  Result<> multipart_copy(const std::string& final_key);
  Result<> fail_with(Error e);

  S3Client& client_;
  const S3Config& config_;
  std::optional<Digest> expected_;
  std::optional<std::uint64_t> size_;  // announced size
  bool streaming_ = false;             // the single streamed PutObject
  std::unique_ptr<S3Upload> upload_;   // streaming_: the request in flight
  bool stream_started_ = false;
  bool stream_unfinished_ = false;  // a PutObject was started and has not succeeded
  bool stream_dedup_ = false;  // streaming_ with the blob already stored: appends are dropped
  std::byte last_byte_{};      // streaming_: held back until commit()
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
